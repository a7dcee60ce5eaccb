"""A window owner reads a partials partition back from its start to where its group's reading
begins, or to its end (``kafka/rewind.py``): every record before that offset, none after, one
partition only."""

from __future__ import annotations

import asyncio

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from logscrub.config import KafkaConfig
from logscrub.kafka.rewind import read_back


def test_a_partition_is_read_back_to_the_offset_given(
    kafka_admin: KafkaAdminClient, kafka_bootstrap: str, topic_name: str
) -> None:
    kafka_admin.create_topics([NewTopic(topic_name, num_partitions=2, replication_factor=1)])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        for i in range(6):
            producer.send(topic_name, f"p1-{i}".encode(), partition=1)
            producer.send(topic_name, f"p0-{i}".encode(), partition=0)
        producer.flush(timeout=30)
    finally:
        producer.close()

    async def read(end: int | None) -> list[tuple[int, bytes]]:
        k = KafkaConfig(bootstrap_servers=kafka_bootstrap)
        return [record async for record in read_back(k, topic_name, 1, end, "test-rewind")]

    assert asyncio.run(read(4)) == [(i, f"p1-{i}".encode()) for i in range(4)]
    assert asyncio.run(read(0)) == []
    assert asyncio.run(read(None)) == [(i, f"p1-{i}".encode()) for i in range(6)]  # to its end


def test_a_read_back_that_stalls_says_so_in_the_log(
    kafka_admin: KafkaAdminClient, kafka_bootstrap: str, topic_name: str, monkeypatch, caplog
) -> None:
    """A read-back waits for the broker as long as it takes, but not silently."""
    kafka_admin.create_topics([NewTopic(topic_name, num_partitions=1, replication_factor=1)])
    monkeypatch.setattr("logscrub.kafka.rewind.STALLED_S", 0.5)
    caplog.set_level("WARNING", logger="logscrub.kafka.rewind")

    async def stall() -> None:
        k = KafkaConfig(bootstrap_servers=kafka_bootstrap)
        reading = read_back(k, topic_name, 0, 1, "test-rewind")  # an offset no record has reached yet
        task = asyncio.ensure_future(reading.__anext__())
        while "reading back stalled at offset 0 of 1" not in caplog.text:
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await reading.aclose()

    asyncio.run(asyncio.wait_for(stall(), 60))
