"""The audit trail: who searched the raw buffer or acted on a subject, when, and how, never what was found.

Addresses in queries are recorded as subject hashes keyed with the master key: the trail outlives the
security window, so it may not hold addresses, yet an auditor with the key can still check whether a
given address was searched. On Kafka the trail is the audit topic; offline, a file beside the keys
file (never in the output folder).
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from pathlib import Path
from typing import Any

import orjson
from kafka.errors import KafkaError

from logscrub.config import KafkaConfig
from logscrub.errors import Refused
from logscrub.kafka.produce import send_one


class AuditError(Refused):
    """The audit record was not stored: the action's results are withheld."""


def who(principal: str | None) -> dict[str, Any]:
    return {
        "user": getpass.getuser(),
        "host": socket.gethostname(),
        "principal": principal,
    }


def entry(principal: str | None, command: str, details: dict[str, Any]) -> dict[str, Any]:
    """One audit record: when, who, the command and its details (a query, counts, hashes)."""
    return {"at": round(time.time(), 3), "who": who(principal), "command": command, **details}


def record(k: KafkaConfig, topic: str, command: str, details: dict[str, Any]) -> dict[str, Any]:
    """Store one audit record (acks=all) and return it; raises AuditError if the cluster refuses."""
    rec = entry(k.sasl_username, command, details)
    try:
        send_one(k, topic, None, orjson.dumps(rec), "audit")
    except KafkaError as e:
        raise AuditError(f"audit topic {topic}: record not stored ({type(e).__name__}); results withheld") from None
    return rec


def record_to_file(path: Path, command: str, details: dict[str, Any]) -> dict[str, Any]:
    """Append one audit record to ``path`` (mode 0600, synced to disk) and return it; raises
    AuditError if it cannot be written."""
    rec = entry(None, command, details)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise AuditError(f"audit file {path}: record not stored ({why}); results withheld") from None
    return rec
