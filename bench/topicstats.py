"""How many records a run wrote, and at what rate they reached the broker.

Offsets, and the timestamps of two records per partition: counting a million outputs costs a few
requests instead of a million decodes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import KafkaConsumer, TopicPartition

POLL_TIMEOUT_S = 30.0


class TopicStats:
    def __init__(self, bootstrap: str) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    def __enter__(self) -> TopicStats:
        return self

    def __exit__(self, *exc: object) -> None:
        self.consumer.close()

    def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t in topics for p in sorted(self.consumer.partitions_for_topic(t) or ())]

    def count(self, topics: Iterable[str]) -> int:
        """Records on ``topics`` (fresh topics: nothing was deleted yet)."""
        tps = self.partitions(topics)
        begin, end = self.consumer.beginning_offsets(tps), self.consumer.end_offsets(tps)
        return sum(end[tp] - begin[tp] for tp in tps)

    def steady_rate(self, topics: Iterable[str], skip: float = 0.25) -> tuple[int, float]:
        """(records, seconds) from the record at ``skip`` of each partition to its last, by broker timestamps.

        A worker writes a batch's outputs together once it has scrubbed the batch, so the first
        output comes a batch's work after the start; timing from it would credit that batch to
        no time. Skipping the first quarter leaves out that, start-up, and the rebalance while a
        second worker joins, at an error of at most one batch in the rest.
        """
        tps = self.partitions(topics)
        begin, end = self.consumer.beginning_offsets(tps), self.consumer.end_offsets(tps)
        records, starts, ends = 0, [], []
        for tp in tps:
            if end[tp] - begin[tp] < 2:
                continue
            first = begin[tp] + int((end[tp] - begin[tp]) * skip)
            records += end[tp] - 1 - first
            starts.append(self._timestamp(tp, first))
            ends.append(self._timestamp(tp, end[tp] - 1))
        if not records:
            raise ValueError("too few records on the topics to time")
        return records, (max(ends) - min(starts)) / 1000

    def _timestamp(self, tp: TopicPartition, offset: int) -> int:
        self.consumer.assign([tp])
        self.consumer.seek(tp, offset)
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while time.monotonic() < deadline:
            for record in self.consumer.poll(timeout_ms=500, max_records=1).get(tp, ()):
                return int(record.timestamp)
        raise TimeoutError(f"no record at {tp.topic}[{tp.partition}]@{offset} within {POLL_TIMEOUT_S:.0f}s")
