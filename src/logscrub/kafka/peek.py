"""Read a whole topic as it is now: for the demo, the tests and quick looks by hand."""

from __future__ import annotations

import time

from kafka import KafkaConsumer

from logscrub.config import Config, KafkaConfig
from logscrub.kafka.clients import kafka_python_kwargs, refused_clearly, topic_partitions


def read_topic(source: Config | str, topic: str, timeout_s: float = 30.0) -> list[bytes]:
    """Every record value from the beginning to the end offsets at the time of the call.

    ``source`` is the config, or the bootstrap address of a cluster without security. A topic
    the principal may not read, or that does not exist, is a Refused that names it.
    """
    cfg = source if isinstance(source, Config) else Config(kafka=KafkaConfig(bootstrap_servers=source))
    with refused_clearly(cfg, "READ", f"topic {topic}"):
        consumer = KafkaConsumer(**kafka_python_kwargs(cfg), enable_auto_commit=False, max_poll_records=5000)
        try:
            tps = topic_partitions(consumer, topic)
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            out: list[bytes] = []
            deadline = time.monotonic() + timeout_s
            while any(consumer.position(tp) < end[tp] for tp in tps):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {topic} to its end offsets in {timeout_s:.0f}s")
                for records in consumer.poll(timeout_ms=500).values():
                    out.extend(r.value for r in records)
            return out
        finally:
            consumer.close()

