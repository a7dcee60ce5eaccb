"""Read a whole topic as it is now: for the demo, the tests and quick looks by hand."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition


def read_topic(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[bytes]:
    """Every record value from the beginning to the end offsets at the time of the call."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[bytes] = []
        polls = int(timeout_s / 0.5)
        while any(consumer.position(tp) < end[tp] for tp in tps):
            polls -= 1
            if polls < 0:
                raise TimeoutError(f"could not read {topic} to its end offsets in {timeout_s:.0f}s")
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(r.value for r in records)
        return out
    finally:
        consumer.close()
