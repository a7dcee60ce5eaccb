"""Read a topic from its beginning to its end offsets at the time of the call (kafka-python, no group)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaTimeoutError

from logscrub.config import KafkaConfig
from logscrub.errors import Refused
from logscrub.kafka.refusals import refused_clearly
from logscrub.kafka.settings import kafka_python_kwargs

_MISSING_WAIT_MS = 5_000


class ScanError(Refused):
    """A topic that cannot be read to its end."""


def scan(k: KafkaConfig, topic: str, timeout_s: float = 60.0) -> Iterator[Any]:
    """Records (kafka-python ConsumerRecord) in partition order; nothing committed.

    A topic that is missing, or that the principal may not read, is a Refused naming it.
    """
    with refused_clearly(k, "READ", f"topic {topic}"):
        consumer = KafkaConsumer(
            **kafka_python_kwargs(k),
            client_id=f"{k.app_id}-scan",
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


def read_topic(source: KafkaConfig | str, topic: str, timeout_s: float = 30.0) -> list[bytes]:
    """Every record value of ``topic`` as it is now; ``source`` may be a plain bootstrap address."""
    k = source if isinstance(source, KafkaConfig) else KafkaConfig(bootstrap_servers=source)
    return [r.value for r in scan(k, topic, timeout_s)]


def topic_partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's partitions; for a topic the principal may not describe, its authorization error.

    kafka-python's ``partitions_for_topic`` answers an empty set for both a missing topic and one the
    principal may not see (Kafka leaves those out of the topic list): asking for a partition's
    offsets tells them apart. A missing topic is a Refused.
    """
    ids = consumer.partitions_for_topic(topic)
    if not ids:
        try:
            consumer.end_offsets([TopicPartition(topic, 0)], timeout_ms=_MISSING_WAIT_MS)
        except KafkaTimeoutError:
            raise Refused(f"topic {topic} was not found on the cluster") from None
        ids = consumer.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(ids)]
