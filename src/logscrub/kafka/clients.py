"""Connection settings every Kafka client of logscrub shares (admin, shipper, key store, search, worker).

One place turns ``kafka.*`` into client settings, so no client can end up reaching a secured
cluster without its login or its TLS; and one place turns Kafka's refusals into messages that say
who was refused what, and where to look.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import (
    AuthorizationError,
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailedError,
)

from logscrub.config import Config, ConfigError, KafkaConfig
from logscrub.errors import Refused

_PROBE_TIMEOUT_S = 10.0
_MISSING_WAIT_MS = 5_000
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


def kafka_python_kwargs(cfg: Config) -> dict[str, Any]:
    """Keyword arguments for any kafka-python client: the bootstrap servers and how to reach them."""
    k = cfg.kafka
    kwargs: dict[str, Any] = {"bootstrap_servers": _servers(k), "security_protocol": k.security_protocol}
    if k.sasl:
        kwargs |= {
            "sasl_mechanism": k.sasl_mechanism,
            # kafka-python takes these names for SCRAM too.
            "sasl_plain_username": k.sasl_username,
            "sasl_plain_password": k.sasl_password,
        }
    if k.tls:
        kwargs |= {"ssl_cafile": k.ssl_cafile, "ssl_certfile": k.ssl_certfile, "ssl_keyfile": k.ssl_keyfile}
    return kwargs


def faust_broker_kwargs(cfg: Config) -> dict[str, Any]:
    """``broker`` and ``broker_credentials`` for ``faust.App``: the same cluster, login and TLS as above."""
    import faust

    k = cfg.kafka
    credentials: Any = None
    if k.sasl:
        credentials = faust.SASLCredentials(
            username=k.sasl_username,
            password=k.sasl_password,
            mechanism=k.sasl_mechanism,
            ssl_context=_ssl_context(k) if k.tls else None,  # a context is what makes it SASL_SSL
        )
    elif k.tls:
        credentials = faust.SSLCredentials(_ssl_context(k))
    return {"broker": ";".join(f"kafka://{s}" for s in _servers(k)), "broker_credentials": credentials}


def aiokafka_kwargs(cfg: Config) -> dict[str, Any]:
    """Keyword arguments for an aiokafka client: the same cluster, login and TLS as faust's."""
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    credentials = faust_broker_kwargs(cfg)["broker_credentials"]
    return {"bootstrap_servers": _servers(cfg.kafka), **credentials_to_aiokafka_auth(credentials)}


def principal(cfg: Config) -> str:
    """Who the cluster sees, as its ACLs name it."""
    k = cfg.kafka
    if k.sasl:
        return f"User:{k.sasl_username}"
    if k.tls and k.ssl_certfile:
        return "the principal of the certificate in kafka.ssl_certfile"
    return "User:ANONYMOUS"


def _ssl_context(k: KafkaConfig) -> ssl.SSLContext:
    """The TLS context kafka-python builds from the same settings (faust and aiokafka need it made)."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=k.ssl_cafile)
    except ssl.SSLError as e:
        raise ConfigError("kafka.ssl_cafile", f"not a PEM file of CA certificates ({e.reason})") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if k.ssl_certfile:
        try:
            context.load_cert_chain(k.ssl_certfile, k.ssl_keyfile)
        except ssl.SSLError as e:
            raise ConfigError("kafka.ssl_certfile", f"no usable certificate and key ({e.reason})") from None
    return context


def refusal(cfg: Config, error: AuthorizationError, operation: str, resource: str) -> Refused:
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
        f"Kafka refused {principal(cfg)} {operation} on {resource}: "
        "ask your Kafka admin, or see `logscrub topics acl`"
    )


def topic_partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's partitions; for a topic the principal may not describe, its authorization error.

    kafka-python's ``partitions_for_topic`` answers an empty set for both a missing topic and one the
    principal may not see (Kafka leaves those out of the topic list): asking for a partition's
    offsets tells them apart. A missing topic is a Refused.
    """
    ids = consumer.partitions_for_topic(topic)
    if not ids:
        try:
            consumer.end_offsets([TopicPartition(topic, 0)], timeout_ms=_MISSING_WAIT_MS)
        except KafkaTimeoutError:
            raise Refused(f"topic {topic} was not found on the cluster") from None
        ids = consumer.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(ids)]


@contextmanager
def refused_clearly(cfg: Config, operation: str, resource: str) -> Iterator[None]:
    """Turn Kafka's authorization and login failures inside the block into a clear Refused.

    kafka-python reports a refused login only as a bootstrap timeout (it retries until then), so a
    timeout is checked with one connection of our own; a timeout that is not a refused login is
    re-raised for the caller to report as an unreachable cluster.
    """
    try:
        yield
    except AuthorizationError as e:
        raise refusal(cfg, e, operation, resource) from None
    except KafkaTimeoutError:
        problem = _connection_problem(cfg) if cfg.kafka.sasl or cfg.kafka.tls else None
        if problem is None:
            raise
        raise Refused(problem) from None


def _servers(k: KafkaConfig) -> list[str]:
    return [s.strip() for s in k.bootstrap_servers.split(",")]


def _connection_problem(cfg: Config) -> str | None:
    """Why the first bootstrap server turns a client away, when it is the login or TLS; else None."""
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError, SaslAuthenticationFailed, UnsupportedSaslMechanismError
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    k = cfg.kafka
    server = _servers(k)[0]
    host, port = server.rsplit(":", 1)
    # The worker's own mapping of the credentials: what is checked is what faust will use too.
    auth = credentials_to_aiokafka_auth(faust_broker_kwargs(cfg)["broker_credentials"])

    async def connect() -> None:
        conn = await asyncio.wait_for(create_conn(host, int(port), **auth), _PROBE_TIMEOUT_S)
        conn.close()

    try:
        asyncio.run(connect())
    except SaslAuthenticationFailed:
        return (
            f"Kafka at {server} refused the login of {principal(cfg)} ({k.sasl_mechanism}): "
            "check kafka.sasl_username and the password (LOGSCRUB_KAFKA__SASL_PASSWORD)"
        )
    except UnsupportedSaslMechanismError:
        return f"Kafka at {server} does not offer SASL mechanism {k.sasl_mechanism}: check kafka.sasl_mechanism"
    except ssl.SSLError as e:
        return (
            f"the TLS handshake with Kafka at {server} failed ({e.reason}): "
            "check kafka.ssl_cafile and kafka.ssl_certfile"
        )
    except (KafkaError, OSError, asyncio.TimeoutError, RuntimeError):  # RuntimeError: inside an event loop
        return None  # not a login or TLS problem, or no way to tell: the caller's timeout stands
    return None
