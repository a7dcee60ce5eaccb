"""Keys shared by every worker through the keys topic: the first live key of a period is *the* key.

How the topic is read and why it has one partition: docs/architecture.md ("Keys").
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from logscrub.config import KafkaConfig
from logscrub.errors import Refused
from logscrub.kafka.settings import kafka_python_kwargs
from logscrub.kafka.tail import TopicTail
from logscrub.crypto.keyring import Key
from logscrub.crypto.master import MasterKey, WrapError

CLAIM_TIMEOUT_S = 30.0
DELIVERY_TIMEOUT_S = 120


class KeyStoreError(Refused):
    """The keys topic cannot be read or written: no line may be sealed under a key others cannot find."""


def key_record(ring: str, kid: str) -> str:
    return f"key/{ring}/{kid}"


class KafkaKeyStore:
    """The keys topic as a ``keys.KeyStore``, plus subject keys and erasure markers.

    ``follow()`` keeps reading in a background thread (workers); one-shot tools call ``catch_up()``.
    Errors reading the topic raise ``tail.TailError``, writing it ``KeyStoreError``.
    ``keep_subjects``: hold every subject key (search, erasure); a worker only needs to hear of
    destroyed ones (``on_subject_gone``).
    """

    def __init__(self, k: KafkaConfig, topic: str, master: MasterKey, *, keep_subjects: bool = False) -> None:
        self.topic = topic
        self.master = master
        self.keep_subjects = keep_subjects
        self.on_subject_gone: Callable[[str, str], None] | None = None
        self._cond = threading.Condition()
        self._keys: dict[str, dict[str, tuple[int, Key]]] = {}  # ring -> kid -> (offset, key)
        self.subjects: dict[str, dict[str, bytes]] = {}  # data kid -> subject key id -> wrapped key
        self.erased: dict[tuple[str, str], float] = {}  # (data kid, subject id) -> when
        self.unreadable = 0  # key records that did not unwrap (another master key?)
        self._send_error: str | None = None
        self._tail = TopicTail(k, self.topic, self._apply, self._cond)
        try:
            self._producer = KafkaProducer(
                **kafka_python_kwargs(k),
                client_id=f"{k.app_id}-keys",
                acks="all",
                enable_idempotence=False,  # kafka-python's idempotent producer wedges after a timeout
                linger_ms=5,
                # Ride out a broker restart like the worker's own producer does; give up only after this.
                retries=2**31 - 1,
                delivery_timeout_ms=DELIVERY_TIMEOUT_S * 1000,
            )
        except KafkaError as e:
            self._tail.close()
            raise KeyStoreError(f"keys topic {self.topic}: cannot reach Kafka ({type(e).__name__})") from None

    def catch_up(self) -> None:
        """Read what the topic holds now (one-shot tools)."""
        self._tail.catch_up()

    def follow(self) -> None:
        """Keep reading in a daemon thread: new keys, destroyed keys and erasures from other processes."""
        self._tail.follow()

    def _apply(self, record_key: str, value: bytes | None, _partition: int, offset: int) -> None:
        kind, _, rest = record_key.partition("/")
        if kind == "key":
            ring, _, kid = rest.partition("/")
            if value is None:
                self._keys.get(ring, {}).pop(kid, None)
                return
            try:
                data = orjson.loads(self.master.unwrap(record_key.encode(), value))
            except (WrapError, orjson.JSONDecodeError):
                self.unreadable += 1
                return
            key = Key(kid, int(data["period"]), base64.b64decode(data["secret"]), data["created"], data["expires"])
            if kid not in self._keys.setdefault(ring, {}):
                self._keys[ring][kid] = (offset, key)
        elif kind == "subject":
            data_kid, _, skid = rest.partition("/")
            if value is None:
                self.subjects.get(data_kid, {}).pop(skid, None)
                if self.on_subject_gone is not None:
                    self.on_subject_gone(data_kid, skid)
            elif self.keep_subjects:
                self.subjects.setdefault(data_kid, {})[skid] = value
        elif kind == "erased" and value is not None:
            data_kid, _, sid = rest.partition("/")
            self.erased[(data_kid, sid)] = float(orjson.loads(value)["at"])

    # -- keys.KeyStore ------------------------------------------------------------------------

    def load(self, ring: str) -> list[Key]:
        now = time.time()
        with self._cond:
            return [k for _, k in self._keys.get(ring, {}).values() if k.expires > now]

    def claim(self, ring: str, candidate: Key) -> Key:
        record = key_record(ring, candidate.kid)
        payload = orjson.dumps(
            {
                "period": candidate.period,
                "secret": base64.b64encode(candidate.secret).decode(),
                "created": candidate.created,
                "expires": candidate.expires,
            }
        )
        try:
            sent = self._producer.send(self.topic, key=record.encode(), value=self.master.wrap(record.encode(), payload))
            offset = sent.get(timeout=CLAIM_TIMEOUT_S).offset
        except KafkaError as e:
            raise KeyStoreError(f"keys topic {self.topic}: cannot store a new key ({type(e).__name__})") from None
        self._tail.wait_for(0, offset + 1, CLAIM_TIMEOUT_S)
        with self._cond:
            rivals = [
                (o, k)
                for o, k in self._keys.get(ring, {}).values()
                if k.period == candidate.period and k.expires > candidate.created
            ]
        return min(rivals, key=lambda ok: ok[0])[1] if rivals else candidate

    def forget(self, ring: str, dead: list[Key]) -> None:
        with self._cond:
            for key in dead:
                self._keys.get(ring, {}).pop(key.kid, None)
                self.subjects.pop(key.kid, None)
        for key in dead:
            self.tombstone(key_record(ring, key.kid))

    # -- writing ------------------------------------------------------------------------------

    def publish(self, record_key: str, value: bytes) -> None:
        """Send without waiting; ``flush`` before acknowledging what depends on it."""
        self._producer.send(self.topic, key=record_key.encode(), value=value).add_errback(self._send_failed)

    def tombstone(self, record_key: str) -> None:
        self._producer.send(self.topic, key=record_key.encode(), value=None).add_errback(self._send_failed)

    def _send_failed(self, e: BaseException) -> None:
        self._send_error = type(e).__name__

    def flush(self, timeout_s: float = DELIVERY_TIMEOUT_S + 10) -> None:
        """Wait for every record sent so far; raises if any was refused (its key would be lost)."""
        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as e:
            raise KeyStoreError(f"keys topic {self.topic}: records not stored ({type(e).__name__})") from None
        if self._send_error:
            raise KeyStoreError(f"keys topic {self.topic}: records not stored ({self._send_error})")

    # -- views --------------------------------------------------------------------------------

    def live(self, ring: str) -> list[Key]:
        return sorted(self.load(ring), key=lambda k: k.created)

    def key(self, ring: str, kid: str) -> Key | None:
        """A live key by id; None once its life is over, whether or not its record is still in the topic."""
        with self._cond:
            got = self._keys.get(ring, {}).get(kid)
        return got[1] if got is not None and got[1].expires > time.time() else None

    def close(self) -> None:
        self._tail.close()
        self._producer.close(timeout=5)

    def __enter__(self) -> KafkaKeyStore:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
