"""The development broker is a real Kafka that both Python clients logscrub uses can talk to,
and that deletes expired records within seconds (the security topics rely on retention)."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin import NewTopic as AIONewTopic
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

DEADLINE_S = 30


def test_kafka_python_round_trip_over_two_partitions(
    kafka_admin: KafkaAdminClient, kafka_bootstrap: str, topic_name: str
) -> None:
    kafka_admin.create_topics([NewTopic(topic_name, num_partitions=2, replication_factor=1)])
    sent = [f"message-{i}".encode() for i in range(100)]

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        futures = [producer.send(topic_name, key=value, value=value) for value in sent]
        partitions = {future.get(timeout=DEADLINE_S).partition for future in futures}
    finally:
        producer.close()
    assert partitions == {0, 1}

    consumer = KafkaConsumer(
        topic_name,
        bootstrap_servers=kafka_bootstrap,
        group_id=topic_name,
        auto_offset_reset="earliest",
    )
    received: list[bytes] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                received.extend(record.value for record in records)
    finally:
        consumer.close()
    assert sorted(received) == sorted(sent)


def test_expired_records_are_deleted(
    kafka_admin: KafkaAdminClient, kafka_bootstrap: str, topic_name: str
) -> None:
    retention = {"retention.ms": "5000", "segment.ms": "1000", "file.delete.delay.ms": "0"}
    kafka_admin.create_topics(
        [NewTopic(topic_name, num_partitions=1, replication_factor=1, topic_configs=retention)]
    )
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        for i in range(10):
            producer.send(topic_name, f"record-{i}".encode())
        producer.flush(timeout=DEADLINE_S)
    finally:
        producer.close()

    partition = TopicPartition(topic_name, 0)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        end = consumer.end_offsets([partition])[partition]
        assert end == 10
        assert consumer.beginning_offsets([partition])[partition] == 0
        deadline = time.monotonic() + DEADLINE_S
        while consumer.beginning_offsets([partition])[partition] < end:
            assert time.monotonic() < deadline, f"records still readable after {DEADLINE_S}s"
            time.sleep(0.25)  # polling interval, not synchronization: the deadline decides
    finally:
        consumer.close()


async def _aiokafka_round_trip(bootstrap: str, topic: str, sent: list[bytes]) -> list[bytes]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([AIONewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in sent:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=topic, auto_offset_reset="earliest"
    )
    await consumer.start()
    received: list[bytes] = []
    try:
        async with asyncio.timeout(DEADLINE_S):
            async for record in consumer:
                received.append(record.value)
                if len(received) == len(sent):
                    break
    finally:
        await consumer.stop()
    return received


def test_aiokafka_round_trip(kafka_bootstrap: str, topic_name: str) -> None:
    """faust runs on aiokafka: its admin, producer and group consumer must work on this broker."""
    sent = [f"event-{i}".encode() for i in range(10)]
    assert asyncio.run(_aiokafka_round_trip(kafka_bootstrap, topic_name, sent)) == sent
