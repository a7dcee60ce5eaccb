"""The audit trail: who searched the raw buffer or acted on a subject, when, and how, never what was found.

Addresses in queries are recorded as subject hashes keyed with the master key: the trail outlives the
security window, so it may not hold addresses, yet an auditor with the key can still check whether a
given address was searched.
"""

from __future__ import annotations

import getpass
import socket
import time
from typing import Any

import orjson
from kafka.errors import KafkaError

from logscrub.config import KafkaConfig
from logscrub.errors import Refused
from logscrub.kafka.produce import send_one


class AuditError(Refused):
    """The audit record was not stored: the action's results are withheld."""


def who(k: KafkaConfig) -> dict[str, Any]:
    return {
        "user": getpass.getuser(),
        "host": socket.gethostname(),
        "principal": k.sasl_username,
    }


def record(k: KafkaConfig, topic: str, command: str, details: dict[str, Any]) -> dict[str, Any]:
    """Store one audit record (acks=all) and return it; raises AuditError if the cluster refuses."""
    entry = {"at": round(time.time(), 3), "who": who(k), "command": command, **details}
    try:
        send_one(k, topic, None, orjson.dumps(entry), "audit")
    except KafkaError as e:
        raise AuditError(f"audit topic {topic}: record not stored ({type(e).__name__}); results withheld") from None
    return entry
