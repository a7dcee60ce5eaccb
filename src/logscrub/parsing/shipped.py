"""Lines as shippers put them on ``logs.raw``.

``logscrub ship``, an Apache/nginx piped log and most Vector/Fluent Bit sinks write the bare
line. Filebeat and Vector's default JSON encoding wrap it as ``{"message": ...}``, Fluent Bit's
tail input as ``{"log": ...}``. A JSON access log (nginx ``escape=json``, Caddy) is itself an
object without those fields, and stays as it is.
"""

from __future__ import annotations

import orjson

_WRAPPER_FIELDS = ("message", "log")


def unwrap(value: bytes | None) -> bytes:
    """The access-log line inside a Kafka record value."""
    if not value:
        return b""
    if value[:1] != b"{":
        return value
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    if isinstance(doc, dict):
        for name in _WRAPPER_FIELDS:
            inner = doc.get(name)
            if isinstance(inner, str):
                return inner.encode("utf-8", "surrogatepass")
    return value
