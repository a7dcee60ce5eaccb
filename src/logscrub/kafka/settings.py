"""Connection settings for every Kafka client of logscrub, built in this one place from ``kafka.*``.

kafka-python (the synchronous commands), aiokafka (the worker's own clients) and faust (the
worker's framework, on aiokafka) all get the same servers, login and TLS: no client can reach a
secured cluster without its login or its TLS.
"""

from __future__ import annotations

import ssl
from typing import Any

from logscrub.config import ConfigError, KafkaConfig


def servers(k: KafkaConfig) -> list[str]:
    return [s.strip() for s in k.bootstrap_servers.split(",")]


def kafka_python_kwargs(k: KafkaConfig) -> dict[str, Any]:
    """Keyword arguments for any kafka-python client."""
    kwargs = _login(k)
    if k.tls:
        kwargs |= {"ssl_cafile": k.ssl_cafile, "ssl_certfile": k.ssl_certfile, "ssl_keyfile": k.ssl_keyfile}
    return kwargs


def aiokafka_kwargs(k: KafkaConfig) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (it takes a TLS context rather than file names)."""
    kwargs = _login(k)
    if k.tls:
        kwargs["ssl_context"] = ssl_context(k)
    return kwargs


def _login(k: KafkaConfig) -> dict[str, Any]:
    """The servers, the protocol and the SASL login, named alike by both libraries (SCRAM included)."""
    kwargs: dict[str, Any] = {"bootstrap_servers": servers(k), "security_protocol": k.security_protocol}
    if k.sasl:
        kwargs |= {
            "sasl_mechanism": k.sasl_mechanism,
            "sasl_plain_username": k.sasl_username,
            "sasl_plain_password": k.sasl_password,
        }
    return kwargs


def faust_broker_kwargs(k: KafkaConfig) -> dict[str, Any]:
    """``broker`` and ``broker_credentials`` for ``faust.App``, with faust's public credential types."""
    import faust

    credentials: Any = None
    if k.sasl:
        credentials = faust.SASLCredentials(
            username=k.sasl_username,
            password=k.sasl_password,
            mechanism=k.sasl_mechanism,
            ssl_context=ssl_context(k) if k.tls else None,  # a context is what makes it SASL_SSL
        )
    elif k.tls:
        credentials = faust.SSLCredentials(ssl_context(k))
    return {"broker": ";".join(f"kafka://{s}" for s in servers(k)), "broker_credentials": credentials}


def principal(k: KafkaConfig) -> str:
    """Who the cluster sees, as its ACLs name it."""
    if k.sasl:
        return f"User:{k.sasl_username}"
    if k.tls and k.ssl_certfile:
        return "the principal of the certificate in kafka.ssl_certfile"
    return "User:ANONYMOUS"


def ssl_context(k: KafkaConfig) -> ssl.SSLContext:
    """The TLS context kafka-python builds from the same settings (aiokafka and faust need it made)."""
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
