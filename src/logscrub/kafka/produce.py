"""One record written and acknowledged (kafka-python), for the commands that write one at a time."""

from __future__ import annotations

from kafka import KafkaProducer

from logscrub.config import KafkaConfig
from logscrub.kafka.refusals import refused_clearly
from logscrub.kafka.settings import kafka_python_kwargs

TIMEOUT_S = 30


def send_one(k: KafkaConfig, topic: str, key: bytes | None, value: bytes | None, purpose: str) -> None:
    """Write one record with acks=all and wait for it; Kafka's refusals become a clear Refused,
    anything else stays a ``kafka.errors.KafkaError`` for the caller to name."""
    with refused_clearly(k, "WRITE", f"topic {topic}"):
        producer = KafkaProducer(**kafka_python_kwargs(k), client_id=f"{k.app_id}-{purpose}", acks="all")
        try:
            producer.send(topic, key=key, value=value).get(timeout=TIMEOUT_S)
        finally:
            producer.close(timeout=5)
