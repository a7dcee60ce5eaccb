"""Subjects who asked to be kept out of analytics (``logscrub subject restrict``).

The restrictions topic holds, per subject, a hash keyed with the master key (never the address):
it must outlive the security window, so it may not hold the address itself. Workers follow it and
seal a restricted client's lines without publishing anything derived from them.
"""

from __future__ import annotations

import threading
import time

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from logscrub.config import KafkaConfig
from logscrub.errors import Refused
from logscrub.kafka.refusals import refused_clearly
from logscrub.kafka.settings import kafka_python_kwargs
from logscrub.kafka.tail import TopicTail
from logscrub.crypto.master import MasterKey


class Restrictions:
    """Callable on a packed address: whether its client is restricted. Cheap while nobody is."""

    def __init__(self, k: KafkaConfig, topic: str, master: MasterKey) -> None:
        self.master = master
        self._hashes: set[str] = set()
        self._tail = TopicTail(k, topic, self._apply, threading.Condition())

    def _apply(self, record_key: str, value: bytes | None, _partition: int, _offset: int) -> None:
        if value is None:
            self._hashes.discard(record_key)
        else:
            self._hashes.add(record_key)

    def follow(self) -> None:
        self._tail.follow()

    def __call__(self, packed_ip: bytes) -> bool:
        return bool(self._hashes) and self.master.subject_hash(packed_ip) in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def close(self) -> None:
        self._tail.close()


def set_restriction(k: KafkaConfig, topic: str, master: MasterKey, packed_ip: bytes, lift: bool = False) -> str:
    """Record (or lift) a restriction; returns the subject hash it is filed under."""
    subject = master.subject_hash(packed_ip)
    value = None if lift else orjson.dumps({"at": round(time.time(), 3)})
    try:
        with refused_clearly(k, "WRITE", f"topic {topic}"):
            producer = KafkaProducer(
                **kafka_python_kwargs(k), client_id=f"{k.app_id}-restrict", acks="all"
            )
            try:
                producer.send(topic, key=subject.encode(), value=value).get(timeout=30)
            finally:
                producer.close(timeout=5)
    except KafkaError as e:
        raise Refused(f"topic {topic}: restriction not stored ({type(e).__name__})") from None
    return subject
