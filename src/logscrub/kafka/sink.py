"""The worker's one producer: every output, partial and key record, written as record batches (aiokafka).

Not compressed: aiokafka's gzip runs at level 9 and took a quarter of the worker's CPU, sealed lines
do not compress, and lz4 or zstd would make every consumer need a codec. A topic's
``compression.type`` can compress at the broker instead.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from logscrub.config import KafkaConfig
from logscrub.kafka.settings import aiokafka_kwargs

MAX_BATCH_BYTES = 512 * 1024
Delivery = tuple[str, "asyncio.Future[Any]"]  # (topic, the broker's answer)


class OutputFailed(Exception):
    """An output the broker did not take; ``topic`` names it, ``cause`` is the client's error."""

    def __init__(self, topic: str, cause: BaseException) -> None:
        super().__init__(topic)
        self.topic = topic
        self.cause = cause


class KafkaSink:
    """``write`` hands records to the producer and returns their deliveries, to await before
    acknowledging what they came from."""

    def __init__(self, k: KafkaConfig, client_id: str, timeout_s: float) -> None:
        self.producer = AIOKafkaProducer(
            **aiokafka_kwargs(k),
            client_id=client_id,
            acks="all",
            compression_type=None,
            linger_ms=20,
            max_batch_size=MAX_BATCH_BYTES,
            request_timeout_ms=int(timeout_s * 1000),
        )
        self._started = asyncio.Event()
        self._spread = itertools.count()

    async def start(self) -> None:
        await self.producer.start()
        self._started.set()

    async def stop(self) -> None:
        await self.producer.stop()

    async def write(
        self,
        topic: str,
        values: Sequence[bytes | None],
        keys: Sequence[bytes | None] | None = None,
        timestamps: Sequence[int | None] | None = None,
        partition: int | None = None,
    ) -> list[Delivery]:
        """``values`` as record batches on one partition of ``topic``: ``partition``, or the next in
        turn with each call. ``timestamps`` in milliseconds (None: the producer's clock)."""
        await self._started.wait()
        if partition is None:
            partitions = await self.partitions(topic)
            partition = partitions[next(self._spread) % len(partitions)]
        sent: list[Delivery] = []
        batch = self.producer.create_batch()
        for i, value in enumerate(values):
            key = keys[i] if keys is not None else None
            stamp = timestamps[i] if timestamps is not None else None
            if batch.append(key=key, value=value, timestamp=stamp) is None:
                if batch.record_count():
                    sent.append((topic, await self._send_batch(batch, topic, partition)))
                    batch = self.producer.create_batch()
                if batch.append(key=key, value=value, timestamp=stamp) is None:  # larger than a batch
                    sent.append((topic, await self.send(topic, value, key, partition, stamp)))
        if batch.record_count():
            sent.append((topic, await self._send_batch(batch, topic, partition)))
        return sent

    async def partitions(self, topic: str) -> list[int]:
        """``topic``'s partitions, in order."""
        await self._started.wait()
        try:
            return sorted(await self.producer.partitions_for(topic))
        except KafkaError as e:
            raise OutputFailed(topic, e) from None

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> asyncio.Future[Any]:
        """One record; with a key and no partition, the key decides the partition (as Kafka's own partitioner)."""
        await self._started.wait()
        try:
            return await self.producer.send(topic, value, key=key, partition=partition, timestamp_ms=timestamp_ms)
        except KafkaError as e:
            raise OutputFailed(topic, e) from None

    async def _send_batch(self, batch: Any, topic: str, partition: int) -> asyncio.Future[Any]:
        batch.close()
        try:
            return await self.producer.send_batch(batch, topic, partition=partition)
        except KafkaError as e:
            raise OutputFailed(topic, e) from None


async def delivered(deliveries: list[Delivery]) -> None:
    """Wait for every delivery; OutputFailed names the first topic the broker did not take."""
    for topic, delivery in deliveries:
        try:
            await delivery
        except KafkaError as e:
            raise OutputFailed(topic, e) from None
