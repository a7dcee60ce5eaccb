"""The worker's hot path: ``logs.raw`` in, outputs out, read and written with aiokafka directly.

A batch's offsets are committed only after the broker has all of its outputs (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from logscrub.scrub.aggregate import TrafficAggregator
from logscrub.config import Config
from logscrub.scrub.scrubber import Scrubber
from logscrub.kafka.settings import aiokafka_kwargs
from logscrub.parsing.shipped import unwrap
from logscrub.scrub.routing import Routed
from logscrub.ops.metrics import Health, WorkerMetrics

log = logging.getLogger("logscrub.worker")

BATCH = 5000
BATCH_WITHIN_MS = 250  # latency bound for a quiet stream
MAX_BATCH_BYTES = 512 * 1024


def raw_group(cfg: Config) -> str:
    """The consumer group that owns logs.raw (faust's own group, ``app_id``, owns the partials)."""
    return f"{cfg.kafka.app_id}.raw"


class OutputFailed(Exception):
    """An output the broker did not take; ``topic`` names it, ``cause`` is the client's error."""

    def __init__(self, topic: str, cause: BaseException) -> None:
        super().__init__(topic)
        self.topic = topic
        self.cause = cause


class RawLoop:
    """Consume, scrub, write, commit: one batch at a time."""

    def __init__(
        self,
        cfg: Config,
        scrubber: Scrubber,
        partial_sums: TrafficAggregator,
        metrics: WorkerMetrics,
        health: Health,
        output_timeout_s: float,
    ) -> None:
        self.cfg = cfg
        self.scrubber = scrubber
        self.partial_sums = partial_sums
        self.metrics = metrics
        self.health = health
        self.timeout_ms = int(output_timeout_s * 1000)
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.next_offsets: dict[int, int] = {}  # raw partition -> next offset to process
        self._idle = asyncio.Event()
        self._idle.set()
        self._spread = itertools.count()

    async def run(self) -> None:
        """Until cancelled (the worker stops); raises OutputFailed when an output cannot be written."""
        t = self.cfg.topics
        kwargs = aiokafka_kwargs(self.cfg.kafka)
        self.producer = AIOKafkaProducer(
            **kwargs,
            client_id=f"{self.cfg.kafka.app_id}-raw",
            acks="all",
            # Not compressed: aiokafka's gzip runs at level 9 and took a quarter of the worker's CPU,
            # half of the bytes (sealed lines) do not compress, and lz4 or zstd would make every
            # consumer need a codec library. A topic's compression.type can compress at the broker.
            compression_type=None,
            linger_ms=20,
            max_batch_size=MAX_BATCH_BYTES,
            request_timeout_ms=self.timeout_ms,
        )
        self.consumer = AIOKafkaConsumer(
            **kwargs,
            client_id=f"{self.cfg.kafka.app_id}-raw",
            group_id=raw_group(self.cfg),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # A crashed worker's partitions move to the others after this long.
            session_timeout_ms=15_000,
            heartbeat_interval_ms=3_000,
            max_partition_fetch_bytes=8 << 20,
        )
        await self.producer.start()
        try:
            self.consumer.subscribe([t.raw.name], listener=_Listener(self))
            await self.consumer.start()
            while True:
                batches = await self.consumer.getmany(timeout_ms=BATCH_WITHIN_MS, max_records=BATCH)
                if batches:
                    self._idle.clear()
                    try:
                        await self._batch(batches)
                    finally:
                        self._idle.set()
        finally:
            self.health.set_ready(False)
            await self.consumer.stop()
            await self.producer.stop()

    async def _batch(self, batches: dict[TopicPartition, list[Any]]) -> None:
        t, scrubber = self.cfg.topics, self.scrubber
        started = time.perf_counter()
        now = time.time()
        routed = Routed(self.partial_sums)
        process, add = scrubber.process, routed.add
        commits = {}
        for tp, records in batches.items():
            for r in records:
                add(process(unwrap(r.value), now, f"{tp.partition}:{r.offset}"))
            commits[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
        deliveries = [
            d
            for role, values in routed.take().items()
            if values
            for d in await self._write(getattr(t, role).name, values)
        ]
        partials = self.partial_sums.drain_partials()
        for partial in partials:
            key = f"{partial['site']}|{partial['window']}".encode()
            deliveries.append((t.partials.name, await self._send(t.partials.name, orjson.dumps(partial), key)))
        if scrubber.subjects is not None:
            # New subject keys are stored before the lines sealed under them are committed; off the
            # event loop, so that heartbeats go on while a broker restarts.
            await asyncio.get_running_loop().run_in_executor(None, scrubber.subjects.flush)
        for topic, delivery in deliveries:
            try:
                await delivery
            except KafkaError as e:
                raise OutputFailed(topic, e) from None
        await self._commit(commits)
        scrubber.data_keys.expire()
        scrubber.visitor_keys.expire()
        self.metrics.batch(
            routed.lines, routed.events, routed.rejected, len(partials), time.perf_counter() - started, routed.restricted
        )

    async def _write(self, topic: str, values: list[bytes]) -> list[tuple[str, asyncio.Future[Any]]]:
        """``values`` as record batches on one partition of ``topic`` (the next in turn each batch)."""
        assert self.producer is not None
        try:
            partitions = sorted(await self.producer.partitions_for(topic))
        except KafkaError as e:
            raise OutputFailed(topic, e) from None
        partition = partitions[next(self._spread) % len(partitions)]
        sent = []
        batch = self.producer.create_batch()
        for value in values:
            if batch.append(key=None, value=value, timestamp=None) is None:
                if batch.record_count():
                    sent.append((topic, await self._send_batch(batch, topic, partition)))
                    batch = self.producer.create_batch()
                if batch.append(key=None, value=value, timestamp=None) is None:  # larger than a batch
                    sent.append((topic, await self._send(topic, value, None, partition)))
        if batch.record_count():
            sent.append((topic, await self._send_batch(batch, topic, partition)))
        return sent

    async def _send_batch(self, batch: Any, topic: str, partition: int) -> asyncio.Future[Any]:
        assert self.producer is not None
        batch.close()
        try:
            return await self.producer.send_batch(batch, topic, partition=partition)
        except KafkaError as e:
            raise OutputFailed(topic, e) from None

    async def _send(self, topic: str, value: bytes, key: bytes | None, partition: int | None = None) -> Any:
        assert self.producer is not None
        try:
            return await self.producer.send(topic, value, key=key, partition=partition)
        except KafkaError as e:
            raise OutputFailed(topic, e) from None

    async def _commit(self, commits: dict[TopicPartition, OffsetAndMetadata]) -> None:
        assert self.consumer is not None
        try:
            await self.consumer.commit(commits)
        except CommitFailedError:
            # The group moved the partitions on meanwhile (a session timeout): their new owner
            # processes these lines again, and the duplicates are told apart by src.
            log.warning("offsets of a finished batch not committed: the partitions moved; lines will be replayed")
            return
        for tp, offset in commits.items():
            self.next_offsets[tp.partition] = offset.offset

    def lag(self) -> dict[int, int]:
        """Lines not yet processed, by raw partition this worker owns (as of the last fetch)."""
        if self.consumer is None:
            return {}
        lag = {}
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            start = self.next_offsets.get(tp.partition)
            if end is not None and start is not None:
                lag[tp.partition] = max(end - start, 0)
        return lag


class _Listener(ConsumerRebalanceListener):
    def __init__(self, loop: RawLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Any) -> None:
        """Let the batch in hand finish and commit before the partitions move (no replay)."""
        self.loop.health.set_ready(False)
        await self.loop._idle.wait()
        for tp in revoked:
            self.loop.next_offsets.pop(tp.partition, None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        consumer = self.loop.consumer
        assert consumer is not None
        for tp in assigned:
            self.loop.next_offsets[tp.partition] = await consumer.position(tp)
        self.loop.health.set_ready(bool(assigned))

