"""The worker's hot path: ``logs.raw`` in, outputs out, read and written with aiokafka directly.

A batch's offsets are committed only after the broker has all of its outputs and the keys they
need (docs/architecture.md, "The worker").
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.structs import OffsetAndMetadata

from logscrub.config import KafkaConfig, TopicsConfig
from logscrub.crypto.keyring import KeyRing
from logscrub.kafka.settings import aiokafka_kwargs
from logscrub.kafka.shared_keys import SharedKeys
from logscrub.kafka.sink import Delivery, KafkaSink, delivered
from logscrub.ops.metrics import Health, WorkerMetrics
from logscrub.parsing.shipped import unwrap
from logscrub.scrub.aggregate import TrafficAggregator, heartbeat
from logscrub.scrub.build import Core
from logscrub.scrub.record_size import partial_records, sightings_records
from logscrub.scrub.routing import Routed
from logscrub.scrub.windows import owner_key

log = logging.getLogger("logscrub.worker")

BATCH = 5000
BATCH_WITHIN_MS = 250  # latency bound for a quiet stream


def raw_group(app_id: str) -> str:
    """The consumer group that owns logs.raw (faust's own group, ``app_id``, owns the partials)."""
    return f"{app_id}.raw"


class RawLoop:
    """Consume, scrub, write, commit: one batch at a time."""

    def __init__(
        self,
        k: KafkaConfig,
        topics: TopicsConfig,
        core: Core,
        partial_sums: TrafficAggregator,
        sink: KafkaSink,
        keys: SharedKeys | None,
        metrics: WorkerMetrics,
        health: Health,
    ) -> None:
        self.topics = topics
        self.core = core
        self.partial_sums = partial_sums
        self.sink = sink
        self.keys = keys
        self.metrics = metrics
        self.health = health
        self.rings = {ring.name: ring for ring in (core.visitor_keys, core.data_keys)}
        self.consumer = AIOKafkaConsumer(
            **aiokafka_kwargs(k),
            client_id=f"{k.app_id}-raw",
            group_id=raw_group(k.app_id),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # A crashed worker's partitions move to the others after this long.
            session_timeout_ms=15_000,
            heartbeat_interval_ms=3_000,
            max_partition_fetch_bytes=8 << 20,
        )
        self.next_offsets: dict[int, int] = {}  # raw partition -> next offset to process
        self.marks: dict[int, int] = {}  # raw partition -> latest window start of its events
        # The marks last sent in heartbeats, and when: sent again once they move, or after a quarter
        # of the lateness (a source no owner hears from for its idle time stops holding windows back).
        self._beat: tuple[dict[str, int], float] = ({}, 0.0)
        self._idle = asyncio.Event()
        self._idle.set()

    async def run(self) -> None:
        """Until cancelled; raises OutputFailed when an output cannot be written."""
        self.consumer.subscribe([self.topics.raw.name], listener=_Listener(self))
        await self.consumer.start()
        try:
            while True:
                batches = await self.consumer.getmany(timeout_ms=BATCH_WITHIN_MS, max_records=BATCH)
                if batches:
                    self._idle.clear()
                    try:
                        await self._batch(batches)
                    finally:
                        self._idle.set()
                else:  # keys die on time on a quiet stream too
                    self._expire_keys()
                    await delivered(await self._key_records())
        finally:
            self.health.set_ready(False)
            await self.consumer.stop()

    async def _batch(self, batches: dict[TopicPartition, list[Any]]) -> None:
        t, core = self.topics, self.core
        started = time.perf_counter()
        now = time.time()
        routed = Routed(self.partial_sums, read_events=False)  # the window owner reads them from the partials
        commits = {}
        cpu = time.thread_time()
        claiming = 0.0  # CPU spent claiming keys, inside the loop
        max_line = core.max_line
        for tp, records in batches.items():
            routed.latest = -1
            lines = [unwrap(r.value, max_line) for r in records]
            prefix = f"{tp.partition}:"
            sources = [prefix + str(r.offset) for r in records]
            done = 0
            while done < len(lines):
                run = core.run(lines[done:] if done else lines, now, sources[done:] if done else sources, routed)
                done += run.lines
                if run.need is not None:
                    claim_started = time.thread_time()
                    # A line can need two keys, one of each ring: the core stops again for the second.
                    need = run.need
                    assert self.keys is not None
                    ring: KeyRing = self.rings[need.ring]
                    ring.adopt(await self.keys.claim_async(need.ring, need.candidate))
                    claiming += time.thread_time() - claim_started
            commits[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
            if routed.latest >= 0:
                # Never ahead of the clock: one line dated next year would write every slot and window
                # with its first batch, and drop the rest of it as late (red-team round 4: 93-98%).
                latest = min(routed.latest, int(time.time()))
                self.marks[tp.partition] = max(self.marks.get(tp.partition, -1), latest)
        scrubbed = time.thread_time()
        self.metrics.cpu.labels("scrub").inc(scrubbed - cpu - claiming)
        self._expire_keys()
        deliveries: list[Delivery] = []
        records, held = routed.take()
        for role, values in records.items():
            if values:
                deliveries += await self.sink.write(getattr(t, role).name, values)
        for sightings in core.vocabulary.take_sightings():  # what k counts, for the other workers
            for record in sightings_records(sightings):
                deliveries.append((t.vocabulary.name, await self.sink.send(t.vocabulary.name, record)))
        # Events before the aggregate partials, and one owner key's records stay in order on its
        # partition. Then the marks, to every partition, after all of the batch's records there:
        # read first on one partition (or on one key of several sharing it), they made the rest of
        # the batch late on the others (red-team rounds 12 and 16: 10 of 20 (rare) events).
        sums = self.partial_sums.drain_partials()
        partials = held + sums
        for partial in held:  # a slot takes events record by record: a large chunk may go in parts
            key = owner_key(partial)
            for record in partial_records(partial):
                deliveries.append((t.partials.name, await self.sink.send(t.partials.name, record, key)))
        # A minute's sums go whole: split by its buckets, a crash between the parts could have the
        # minute published with some of the batch's values and not its total, a difference under k.
        for partial in sums:
            deliveries.append((t.partials.name, await self.sink.send(t.partials.name, orjson.dumps(partial), owner_key(partial))))
        every = self.partial_sums.allowed_lateness / 4  # well within an owner's idle time (the lateness)
        if (marks := self._marks_to_send(batches)) and (marks != self._beat[0] or now - self._beat[1] >= every):
            self._beat = (marks, now)
            span = self.partial_sums.span
            sources = len(self.consumer.partitions_for_topic(t.raw.name) or ())
            for partition in await self.sink.partitions(t.partials.name):
                beat = orjson.dumps(heartbeat(marks, span, partition, sources))
                deliveries.append((t.partials.name, await self.sink.send(t.partials.name, beat, None, partition)))
        keys_started = time.thread_time()
        deliveries += await self._key_records()
        self.metrics.cpu.labels("keys").inc(time.thread_time() - keys_started + claiming)
        await delivered(deliveries)
        await self._commit(commits)
        self.metrics.batch(
            routed.lines, routed.events, routed.rejected, len(partials), time.perf_counter() - started,
            routed.restricted, routed.withheld,
        )

    def _marks_to_send(self, batches: dict[TopicPartition, list[Any]]) -> dict[str, int]:
        """Each raw partition's latest window, for the window owners' watermark: those in this batch,
        and those with lines still waiting (a partition the fetch left out this time is behind,
        not done, and the owners must wait for it)."""
        out = {}
        for tp in self.consumer.assignment():
            mark = self.marks.get(tp.partition)
            if mark is None:
                continue
            end, position = self.consumer.highwater(tp), self.next_offsets.get(tp.partition)
            behind = end is not None and position is not None and position < end
            if tp in batches or behind:
                out[str(tp.partition)] = mark
        return out

    def _expire_keys(self) -> None:
        """Destroy the keys whose life is over; their tombstones go out with the next key records."""
        for ring in self.rings.values():
            ring.expire()

    async def _key_records(self) -> list[Delivery]:
        """New subject keys and destroyed keys' tombstones, stored with the lines that need them."""
        if self.keys is None:
            return []
        records = self.keys.take_pending()
        if self.core.subjects is not None:
            records += self.core.subjects.take_pending()
        if not records:
            return []
        keys = [key.encode() for key, _ in records]
        return await self.sink.write(self.keys.topic, [value for _, value in records], keys, partition=0)

    async def _commit(self, commits: dict[TopicPartition, OffsetAndMetadata]) -> None:
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
            self.loop.marks.pop(tp.partition, None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        consumer = self.loop.consumer
        for tp in assigned:
            self.loop.next_offsets[tp.partition] = await consumer.position(tp)
        self.loop.health.set_ready(bool(assigned))
