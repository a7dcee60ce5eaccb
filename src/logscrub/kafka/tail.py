"""A topic read into process state up to a given offset, synchronously (kafka-python, no group):
the responders' commands read the keys topic this way, and read back what they wrote."""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka import KafkaConsumer
from kafka.errors import KafkaError

from logscrub.config import KafkaConfig
from logscrub.errors import Refused
from logscrub.kafka.refusals import refused_clearly
from logscrub.kafka.scan import topic_partitions
from logscrub.kafka.settings import kafka_python_kwargs

Apply = Callable[[str, bytes | None, int, int], None]  # (record key, value or None, partition, offset)


class TailError(Refused):
    """A topic that cannot be read: state that depends on it would be stale."""


class TopicTail:
    """Calls ``apply`` for every record of ``topic`` in order, as far as it is asked to read."""

    def __init__(self, k: KafkaConfig, topic: str, apply: Apply) -> None:
        self.topic = topic
        self._apply = apply
        try:
            with refused_clearly(k, "READ", f"topic {topic}"):
                self._consumer = KafkaConsumer(
                    **kafka_python_kwargs(k), client_id=f"{k.app_id}-tail", group_id=None, enable_auto_commit=False
                )
                self._tps = topic_partitions(self._consumer, topic)
        except KafkaError as e:
            raise TailError(f"topic {topic}: cannot reach Kafka ({type(e).__name__})") from None
        self._consumer.assign(self._tps)
        self._consumer.seek_to_beginning(*self._tps)
        self._positions = {tp.partition: 0 for tp in self._tps}

    def catch_up(self, timeout_s: float = 30.0) -> None:
        """Read to the end offsets of now."""
        for tp, end in self._consumer.end_offsets(self._tps).items():
            self.wait_for(tp.partition, end, timeout_s)

    def wait_for(self, partition: int, offset: int, timeout_s: float = 30.0) -> None:
        """Return once every record before ``offset`` of ``partition`` was applied."""
        deadline = time.monotonic() + timeout_s
        while self._positions[partition] < offset:
            if time.monotonic() > deadline:
                raise TailError(f"topic {self.topic}: not read up to offset {offset} in {timeout_s:.0f}s")
            for tp, records in self._consumer.poll(timeout_ms=500).items():
                for r in records:
                    self._apply(r.key.decode("utf-8", "replace") if r.key else "", r.value, tp.partition, r.offset)
                    self._positions[tp.partition] = r.offset + 1
            for tp in self._tps:  # past compacted-away offsets and transaction markers too
                position = self._consumer.position(tp)
                if position is not None and position > self._positions[tp.partition]:
                    self._positions[tp.partition] = position

    def close(self) -> None:
        self._consumer.close()
