"""The keys topic for the responders' commands (kafka-python): read once, written with acks."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from logscrub.config import KafkaConfig
from logscrub.kafka.settings import kafka_python_kwargs
from logscrub.kafka.tail import TopicTail
from logscrub.crypto.keyring import Key
from logscrub.crypto.master import MasterKey
from logscrub.kafka.keyrecords import KeyStoreError, KeyTopicState, key_record, wrapped_key

CLAIM_TIMEOUT_S = 30.0
DELIVERY_TIMEOUT_S = 120


class KafkaKeyStore:
    """The keys topic as a ``KeyStore`` for the responders' commands: ``catch_up`` reads it once.

    Errors reading the topic raise ``tail.TailError``, writing it ``KeyStoreError``.
    """

    def __init__(self, k: KafkaConfig, topic: str, master: MasterKey, *, keep_subjects: bool = False) -> None:
        self.topic = topic
        self.state = KeyTopicState(master, keep_subjects)
        self._send_error: str | None = None
        self._tail = TopicTail(k, self.topic, lambda key, value, _p, offset: self.state.apply(key, value, offset))
        try:
            self._producer = KafkaProducer(
                **kafka_python_kwargs(k),
                client_id=f"{k.app_id}-keys",
                acks="all",
                enable_idempotence=False,  # kafka-python's idempotent producer wedges after a timeout
                linger_ms=5,
                retries=2**31 - 1,
                delivery_timeout_ms=DELIVERY_TIMEOUT_S * 1000,
            )
        except KafkaError as e:
            self._tail.close()
            raise KeyStoreError(f"keys topic {self.topic}: cannot reach Kafka ({type(e).__name__})") from None

    @property
    def subjects(self) -> dict[str, dict[str, bytes]]:
        return self.state.subjects

    @property
    def erased(self) -> dict[tuple[str, str], float]:
        return self.state.erased

    @property
    def unreadable(self) -> int:
        return self.state.unreadable

    def catch_up(self) -> None:
        """Read what the topic holds now."""
        self._tail.catch_up()

    # -- KeyStore -----------------------------------------------------------------------------

    def load(self, ring: str) -> list[Key]:
        return self.state.live(ring, time.time())

    def claim(self, ring: str, candidate: Key) -> Key:
        record, value = wrapped_key(self.state.master, ring, candidate)
        try:
            offset = self._producer.send(self.topic, key=record.encode(), value=value).get(timeout=CLAIM_TIMEOUT_S).offset
        except KafkaError as e:
            raise KeyStoreError(f"keys topic {self.topic}: cannot store a new key ({type(e).__name__})") from None
        self._tail.wait_for(0, offset + 1, CLAIM_TIMEOUT_S)
        return self.state.winner(ring, candidate)

    def forget(self, ring: str, dead: list[Key]) -> None:
        self.state.forget(ring, dead)
        for key in dead:
            self.tombstone(key_record(ring, key.kid))

    # -- writing ------------------------------------------------------------------------------

    def publish(self, record_key: str, value: bytes) -> None:
        """Send without waiting; ``flush`` before relying on it."""
        self._producer.send(self.topic, key=record_key.encode(), value=value).add_errback(self._send_failed)

    def tombstone(self, record_key: str) -> None:
        self._producer.send(self.topic, key=record_key.encode(), value=None).add_errback(self._send_failed)

    def _send_failed(self, e: BaseException) -> None:
        self._send_error = type(e).__name__

    def flush(self, timeout_s: float = DELIVERY_TIMEOUT_S + 10) -> None:
        """Wait for every record sent so far; raises if any was refused."""
        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as e:
            raise KeyStoreError(f"keys topic {self.topic}: records not stored ({type(e).__name__})") from None
        if self._send_error:
            raise KeyStoreError(f"keys topic {self.topic}: records not stored ({self._send_error})")

    # -- views --------------------------------------------------------------------------------

    def live(self, ring: str) -> list[Key]:
        return self.load(ring)

    def key(self, ring: str, kid: str) -> Key | None:
        return self.state.key(ring, kid, time.time())

    def close(self) -> None:
        self._tail.close()
        self._producer.close(timeout=5)

    def __enter__(self) -> KafkaKeyStore:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
