"""Kafka's refusals turned into one line that says who was refused what, and where to look."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from kafka.errors import (
    AuthorizationError,
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailedError,
)

from logscrub.config import KafkaConfig
from logscrub.errors import Refused
from logscrub.kafka.settings import aiokafka_kwargs, principal, servers

_PROBE_TIMEOUT_S = 10.0
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


def refusal(k: KafkaConfig, error: AuthorizationError, operation: str, resource: str) -> Refused:
    """A Refused naming the principal, the operation and the resource Kafka refused.

    ``operation`` and ``resource`` say what the caller was doing ("READ", "topic security.raw");
    the error decides when it was another resource (the consumer group, the cluster) that failed.
    """
    named = error.args[0] if error.args else None  # kafka-python passes the topic(s), or a message
    if isinstance(error, TopicAuthorizationFailedError) and isinstance(named, set | frozenset | list | str):
        names = [named] if isinstance(named, str) else sorted(named)
        if names and all(_TOPIC.fullmatch(n) for n in names):
            resource = f"topic {', '.join(names)}"
    elif isinstance(error, GroupAuthorizationFailedError):
        resource = "its consumer group"
    elif isinstance(error, ClusterAuthorizationFailedError):
        resource = "the cluster"
    elif isinstance(error, TransactionalIdAuthorizationFailedError):
        resource = "its transactional id"
    return Refused(
        f"Kafka refused {principal(k)} {operation} on {resource}: ask your Kafka admin, or see `logscrub topics acl`"
    )


@contextmanager
def refused_clearly(k: KafkaConfig, operation: str, resource: str) -> Iterator[None]:
    """Turn Kafka's authorization and login failures inside the block into a clear Refused.

    kafka-python reports a refused login only as a bootstrap timeout (it retries until then), so a
    timeout is checked with one connection of our own; a timeout that is not a refused login is
    re-raised for the caller to report as an unreachable cluster.
    """
    try:
        yield
    except AuthorizationError as e:
        raise refusal(k, e, operation, resource) from None
    except KafkaTimeoutError:
        problem = connection_problem(k) if k.sasl or k.tls else None
        if problem is None:
            raise
        raise Refused(problem) from None


def connection_problem(k: KafkaConfig) -> str | None:
    """Why the first bootstrap server turns a client away, when it is the login or TLS; else None."""
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError, SaslAuthenticationFailed, UnsupportedSaslMechanismError

    server = servers(k)[0]
    host, port = server.rsplit(":", 1)
    auth = {key: v for key, v in aiokafka_kwargs(k).items() if key != "bootstrap_servers"}

    async def connect() -> None:
        conn = await asyncio.wait_for(create_conn(host, int(port), **auth), _PROBE_TIMEOUT_S)
        conn.close()

    try:
        asyncio.run(connect())
    except SaslAuthenticationFailed:
        return (
            f"Kafka at {server} refused the login of {principal(k)} ({k.sasl_mechanism}): "
            "check kafka.sasl_username and the password (LOGSCRUB_KAFKA__SASL_PASSWORD)"
        )
    except UnsupportedSaslMechanismError:
        return f"Kafka at {server} does not offer SASL mechanism {k.sasl_mechanism}: check kafka.sasl_mechanism"
    except ssl.SSLError as e:
        return f"the TLS handshake with Kafka at {server} failed ({e.reason}): check kafka.ssl_cafile and kafka.ssl_certfile"
    except (KafkaError, OSError, asyncio.TimeoutError, RuntimeError):  # RuntimeError: inside an event loop
        return None  # not a login or TLS problem, or no way to tell: the caller's timeout stands
    return None
