"""A topic read into process state and kept current by a background thread.

Workers follow the keys and restrictions topics this way: a record another process writes reaches
every worker within a poll, and ``wait_for`` lets a writer know when it has read its own record back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kafka import KafkaConsumer
from kafka.errors import KafkaError

from logscrub.config import KafkaConfig
from logscrub.errors import Refused
from logscrub.kafka.refusals import refused_clearly
from logscrub.kafka.scan import topic_partitions
from logscrub.kafka.settings import kafka_python_kwargs

log = logging.getLogger("logscrub.tail")

Apply = Callable[[str, bytes | None, int, int], None]  # (record key, value or None, partition, offset)


class TailError(Refused):
    """A followed topic cannot be read: state that depends on it would silently go stale."""


class TopicTail:
    """Calls ``apply`` for every record of ``topic`` in order, under ``lock``."""

    def __init__(self, k: KafkaConfig, topic: str, apply: Apply, lock: threading.Condition) -> None:
        self.topic = topic
        self._apply = apply
        self._cond = lock
        try:
            with refused_clearly(k, "READ", f"topic {topic}"):
                self._consumer = KafkaConsumer(
                    **kafka_python_kwargs(k),
                    client_id=f"{k.app_id}-tail",
                    group_id=None,
                    enable_auto_commit=False,
                )
                self._tps = topic_partitions(self._consumer, topic)
        except KafkaError as e:
            raise TailError(f"topic {topic}: cannot reach Kafka ({type(e).__name__})") from None
        self._consumer.assign(self._tps)
        self._consumer.seek_to_beginning(*self._tps)
        self._positions = {tp.partition: 0 for tp in self._tps}
        self._failed: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def catch_up(self, timeout_s: float = 30.0) -> None:
        """Read to the end offsets of now."""
        ends = self._consumer.end_offsets(self._tps)
        for tp, end in ends.items():
            self.wait_for(tp.partition, end, timeout_s)

    def follow(self) -> None:
        self.catch_up()
        self._thread = threading.Thread(target=self._run, name=f"tail-{self.topic}", daemon=True)
        self._thread.start()

    def wait_for(self, partition: int, offset: int, timeout_s: float = 30.0) -> None:
        """Return once every record before ``offset`` of ``partition`` was applied."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._cond:
                if self._positions[partition] >= offset:
                    return
                if self._failed:
                    raise TailError(f"topic {self.topic}: reading stopped ({self._failed})")
                if self._thread is not None:
                    self._cond.wait(timeout=0.5)
            if time.monotonic() > deadline:
                raise TailError(f"topic {self.topic}: not read up to offset {offset} in {timeout_s:.0f}s")
            if self._thread is None:
                self._poll()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll()
            except Exception as e:  # noqa: BLE001 - the thread must report its end, not die silently
                with self._cond:
                    self._failed = type(e).__name__
                    self._cond.notify_all()
                log.error("topic %s: reading stopped (%s)", self.topic, type(e).__name__)
                return

    def _poll(self) -> None:
        batches = self._consumer.poll(timeout_ms=500)
        with self._cond:
            for tp, records in batches.items():
                for r in records:
                    self._apply(r.key.decode("utf-8", "replace") if r.key else "", r.value, tp.partition, r.offset)
                    self._positions[tp.partition] = r.offset + 1
            for tp in self._tps:  # past compacted-away offsets and transaction markers too
                position = self._consumer.position(tp)
                if position is not None and position > self._positions[tp.partition]:
                    self._positions[tp.partition] = position
            self._cond.notify_all()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._consumer.close()
