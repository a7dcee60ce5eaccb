"""Read every partition of a topic from its beginning to its end offsets at the time of the call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from kafka import KafkaConsumer

from logscrub.config import Config
from logscrub.errors import Refused
from logscrub.kafka.clients import kafka_python_kwargs, refused_clearly, topic_partitions


class ScanError(Refused):
    """A topic that cannot be read to its end."""


def scan(cfg: Config, topic: str, timeout_s: float = 60.0) -> Iterator[Any]:
    """Records (kafka-python ConsumerRecord) in partition order; no consumer group, nothing committed.

    A topic that is missing, or that the principal may not read, is a Refused naming it.
    """
    with refused_clearly(cfg, "READ", f"topic {topic}"):
        consumer = KafkaConsumer(
            **kafka_python_kwargs(cfg),
            client_id=f"{cfg.kafka.app_id}-scan",
            group_id=None,
            enable_auto_commit=False,
            max_poll_records=5000,
        )
        try:
            tps = topic_partitions(consumer, topic)
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            deadline = time.monotonic() + timeout_s
            while any(consumer.position(tp) < end[tp] for tp in tps):
                if time.monotonic() > deadline:
                    raise ScanError(f"could not read {topic} to its end offsets in {timeout_s:.0f}s")
                for tp, records in consumer.poll(timeout_ms=500).items():
                    yield from (r for r in records if r.offset < end[tp])
        finally:
            consumer.close()
