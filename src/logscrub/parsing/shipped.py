"""Lines as drivers receive them: a file's line, or a record on ``logs.raw`` as a shipper put it.

``logscrub ship``, an Apache/nginx piped log and most Vector/Fluent Bit sinks write the bare
line. Filebeat and Vector's default JSON encoding wrap it as ``{"message": ...}``, Fluent Bit's
tail input as ``{"log": ...}``. A JSON access log (nginx ``escape=json``, Caddy) is itself an
object without those fields, and stays as it is.

Every driver hands the core ``unwrap(record, input.max_line_bytes)``: ``scrub`` each file line, the
worker each record value, so a line in a file and the same line shipped give the same answer.
"""

from __future__ import annotations

import ipaddress

import orjson

_WRAPPER_FIELDS = ("message", "log")
_WRAPPER_NAMES = tuple(f'"{name}"'.encode() for name in _WRAPPER_FIELDS)


def unwrap(record: bytes | None, max_bytes: int) -> bytes:
    """The access-log line in a file line or a record value, for ``Scrubber.process``.

    The newline that ends a file line is dropped (a shipper sends lines without it). A shipper's
    envelope is opened unless the record is longer than ``max_bytes``: the core then rejects it as
    too long, as it does when ``logscrub ship`` has cut such a line to ``max_bytes`` + 1, so the
    length decides, not whether the envelope arrived whole.
    """
    if not record:
        return b""
    if record[-1:] == b"\n":
        record = record[:-1]
    if record[:1] != b"{" or len(record) > max_bytes:
        return record
    if not any(name in record for name in _WRAPPER_NAMES):  # a JSON access log: no second parse
        return record
    try:
        doc = orjson.loads(record)
    except orjson.JSONDecodeError:
        return record
    if isinstance(doc, dict):
        for name in _WRAPPER_FIELDS:
            inner = doc.get(name)
            if isinstance(inner, str):
                return inner.encode("utf-8", "surrogatepass")
    return record


def client_key(line: bytes) -> bytes | None:
    """The record key ``logscrub ship`` gives a text line: its client address as logged, the first
    of its first two fields that reads as one (vhost_combined starts with the host), so all of a
    client's lines reach one partition and one worker, in order. The workers then never race on
    whether a group already holds another of its events (docs/privacy.md). None for JSON lines
    and lines with no address up front: those go round robin."""
    if line[:1] == b"{":
        return None
    for token in line[:128].split(b" ", 2)[:2]:
        try:
            ipaddress.ip_address(token.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            continue
        return token
    return None
