"""``logscrub worker``: the raw loop (``rawloop``) and the window owners (``windows``) in one faust app.

Which consumer group owns what, and how nothing is lost, is in docs/architecture.md and docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import faust
import orjson
from aiokafka.errors import (
    KafkaError,
    LeaderNotAvailableError,
    NotLeaderForPartitionError,
    UnknownTopicOrPartitionError,
)
from faust.exceptions import ConsumerNotStarted
from faust.types import TP
from mode import CrashingSupervisor

from logscrub import native
from logscrub.config import Config
from logscrub.crypto import master as master_key
from logscrub.crypto.master import MasterKey
from logscrub.errors import Refused
from logscrub.kafka import guard
from logscrub.kafka.follower import TopicFollower
from logscrub.kafka.restrictions import Restrictions
from logscrub.kafka.rewind import nothing_left, read_back
from logscrub.kafka.settings import faust_broker_kwargs
from logscrub.kafka.shared_keys import SharedKeys
from logscrub.kafka.sink import KafkaSink, OutputFailed, delivered
from logscrub.ops import logsetup as logs
from logscrub.ops.metrics import Health, WorkerMetrics, serving
from logscrub.run.acks import InFlight, InOrderAcks, Replaying
from logscrub.run.collector import few_collections
from logscrub.run.emitter import Emitter
from logscrub.run.rawloop import RawLoop
from logscrub.scrub.slots import EVENTS
from logscrub.scrub.windows import Emission, WindowOwner
from logscrub.scrub import build

log = logging.getLogger("logscrub.worker")

METRICS_EVERY = 5.0  # seconds between updates of the lag and key metrics
# How long the producer retries an output the broker does not take (faust's default is 20 minutes)
# before the worker gives up on it and stops; well above a broker restart.
OUTPUT_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0  # for outputs still in flight when the worker stops
READ_BACK_EVERY = 5.0  # seconds between looks for partials partitions given with nothing to read
Fail = Callable[[BaseException], None]
# What the client reports when it finds no leader for a partition, as for a deleted topic.
_NO_LEADER = (LeaderNotAvailableError, NotLeaderForPartitionError, UnknownTopicOrPartitionError)


class OutputError(RuntimeError):
    """An output topic cannot be written: the worker stops instead of acknowledging lines whose
    outputs are lost. Names the topic and the client's reason, never a record."""

    def __init__(self, topic: str, cause: BaseException) -> None:
        reason = str(cause) or type(cause).__name__
        if isinstance(cause, _NO_LEADER):
            reason += ": no leader for its partitions, does the topic exist?"
        super().__init__(
            f"cannot write to topic {topic} ({reason}): stopping without acknowledging the lines "
            "whose outputs are not written; fix the topic (`logscrub topics check`) and restart"
        )


def build_app(cfg: Config, master: MasterKey, metrics: WorkerMetrics, health: Health, fail: Fail) -> faust.App:
    """The faust app for ``cfg``; topics must exist (``logscrub topics apply``). ``fail(error)`` stops
    the worker with exit status 1 after logging ``error`` once."""
    app = faust.App(
        cfg.kafka.app_id,
        **faust_broker_kwargs(cfg.kafka),
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        # faust wants a data directory even with in-memory tables; keep it out of the user's cwd.
        datadir=os.path.join(tempfile.gettempdir(), f"logscrub-{cfg.kafka.app_id}-faust"),
        topic_allow_declare=False,  # topics and their retention come from `logscrub topics apply`
        topic_disable_leader=True,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_compression_type=None,  # every output goes through the sink; faust's producer stays idle
        broker_commit_interval=1.0,
        # A crashed worker's partitions move to the others after this long (faust's default is 60 s).
        broker_session_timeout=15.0,
        broker_heartbeat_interval=3.0,
        # Partials stay unacknowledged until their window is emitted: waiting for every event to be
        # acknowledged would hang shutdown; what is not acknowledged is replayed by the next owner.
        stream_wait_empty=False,
    )
    t = cfg.topics
    partials = app.topic(t.partials.name, key_type=bytes, value_type=bytes)
    owner: WindowOwner[faust.types.EventT] = build.window_owner(
        cfg.aggregate, cfg.events.time_granularity, mark_releases=True
    )
    acks: InOrderAcks[faust.types.EventT] = InOrderAcks(lambda e: (e.message.partition, e.message.offset))
    replay = Replaying()
    inflight = InFlight()
    restored: set[int] = set()  # partials partitions whose marks before this worker's first read are counted
    revocations: Counter[int] = Counter()  # by partials partition: a read-back it outlived is not counted
    parts = _Parts()  # aiokafka's clients, made on faust's running loop

    async def emit(emission: Emission[faust.types.EventT]) -> None:
        """Write a window's records and the partials it passes to the next span (``Emitter``), then
        acknowledge and commit its partials once the broker has them all. faust commits on its own
        timer even when a delivery failed, and a crash within that second would emit the windows again."""
        if not emission:
            return
        given = sum(revocations.values())  # made on the partitions this worker owns now
        await parts.ready.wait()
        assert parts.emitter is not None
        inflight.begin()
        try:
            written = await parts.emitter.send(emission, lambda: sum(revocations.values()) == given)
        except OutputFailed as e:
            inflight.end()
            fail(OutputError(e.topic, e.cause))
            return
        except BaseException:
            inflight.end()
            raise
        if written is None:  # its partitions were taken away (every one: Kafka revokes them all at once)
            inflight.end()
            log.info("an emission of partitions given up was not written; their next owner writes it")
            return
        owner.handed(emission)
        metrics.emitted(len(emission.records), emission.window_ends, time.time(), len(emission.events))
        metrics.watch_windows(
            sum(level.suppressed for level in owner.levels), owner.base.late, owner.slots.held, owner.slots.late,
            owner.slots.groups.refused,
        )

        async def acknowledge() -> None:
            try:
                await delivered(written)
            except OutputFailed as e:
                fail(OutputError(e.topic, e.cause))
                return
            finally:
                inflight.end()
            for event in acks.done(emission.acks):
                event.ack()
            try:
                await app.consumer.commit()
            except KafkaError as e:  # a rebalance meanwhile: the timer's next commit tries again
                log.info("window partials not committed at once (%s)", type(e).__name__)

        app.add_future(acknowledge())

    @app.task
    async def scrub() -> None:
        """Start the sink and read the shared topics, then run the raw loop until the worker stops."""
        sink = KafkaSink(cfg.kafka, f"{cfg.kafka.app_id}-out", OUTPUT_TIMEOUT)
        keys = SharedKeys(cfg.kafka, t.keys.name, master, sink)
        restrictions = Restrictions(master)
        restricted = TopicFollower(
            cfg.kafka, t.restrictions.name, restrictions.apply, f"{cfg.kafka.app_id}-restrictions"
        )
        vocabulary = build.vocabulary(cfg.aggregate)
        shared = TopicFollower(
            cfg.kafka, t.vocabulary.name, lambda _k, value, _p, _o: value and vocabulary.merge(orjson.loads(value)),
            f"{cfg.kafka.app_id}-vocabulary",
        )
        try:
            await sink.start()
            parts.emitter = Emitter(sink, t.partials.name, t.traffic.name, t.events.name, metrics.cpu.labels("windows"))
            parts.ready.set()
            await keys.start()
            await restricted.start()
            await shared.start()
            visitor, data = build.key_rings(cfg, keys)
            core = build.core(cfg, cfg.input.format, visitor, data, True, restrictions, vocabulary)
            assert core.subjects is not None
            keys.state.on_subject_gone = core.subjects.drop  # no subject key was made before this
            raw_loop = parts.raw_loop = RawLoop(
                cfg.kafka, t, core, build.aggregator(cfg.aggregate), sink, keys, metrics, health
            )
            await raw_loop.run()
        except asyncio.CancelledError:
            raise
        except OutputFailed as e:
            fail(OutputError(e.topic, e.cause))
        except Refused as e:  # a followed topic or the keys topic cannot be used
            fail(e)
        except Exception as e:  # noqa: BLE001 - any other end of the hot path ends the worker
            fail(RuntimeError(f"the raw topic loop stopped ({type(e).__name__})"))
        finally:
            await shared.stop()
            await restricted.stop()
            await keys.stop()
            try:
                await asyncio.wait_for(sink.stop(), STOP_TIMEOUT)
            except (TimeoutError, KafkaError):
                log.warning("outputs still unsent at shutdown were dropped; their lines were not acknowledged")

    # Partials partition -> its read-back under way, and its count of revocations when it began.
    restoring: dict[int, tuple[int, asyncio.Task[bool]]] = {}

    async def restored_before(partition: int, offset: int) -> bool:
        """Whether the marks of ``partition`` before ``offset``, its first partial this worker reads,
        are counted (``restore``): read back now, or by the read-back under way, which the timer
        (``read_back_idle``) began at the same offset, the committed one."""
        if partition in restored:
            return True
        given, task = restoring.get(partition, (None, None))
        if task is None or given != revocations[partition]:  # none, or one of a former assignment
            task = _restoring(partition, offset)
        return await asyncio.shield(task)

    def _restoring(partition: int, offset: int) -> asyncio.Task[bool]:
        given = revocations[partition]
        task = asyncio.ensure_future(restore(partition, offset, given))
        restoring[partition] = (given, task)

        def done(_: object) -> None:
            if restoring.get(partition, (None, None))[1] is task:
                del restoring[partition]
            if not task.cancelled() and task.exception() is not None:  # the timer's: the next tick tries again
                log.warning("partials partition %d: reading back failed (%s)", partition, type(task.exception()).__name__)

        task.add_done_callback(done)
        return task

    async def restore(partition: int, offset: int, given: int) -> bool:
        """Before the first partial this worker reads of a partition it was given: the marks before
        it (the slots written from it, and the joins each made in its day's counts), and the closing
        records; then, on to the partition's end, the windows' closing records and marks its replay
        will come to (``WindowOwner.restore``). False when the partition was taken away since it was
        given (``given``, its count of revocations then): its partial is then the next owner's."""
        marks, token = 0, (partition, given)
        gone = lambda: revocations[partition] != given  # noqa: E731 - taken away meanwhile
        replay.restoring.add(token)
        owner.hold(replay.partitions())  # no slot is written on part of a day's marks
        owner.read_back_starts(partition)
        try:
            async for at, value in read_back(cfg.kafka, t.partials.name, partition, None,
                                             f"{cfg.kafka.app_id}-rewind", gone):
                if gone():
                    break  # the rest is the next owner's to read
                if owner.takes_back(value, ahead=at >= offset):  # most records are partials: not parsed
                    owner.restore(orjson.loads(value), partition, ahead=at >= offset)
                    marks += at < offset
        finally:
            replay.restoring.discard(token)
            owner.hold(replay.partitions())
        if gone():  # ``forget_revoked`` forgot what it read
            return False
        rebuilt = owner.rebuild(partition, time.monotonic())
        if offset:
            owner.caught_up(partition, offset - 1)
        restored.add(partition)
        log.info("partials partition %d: %d marks before offset %d read back, %d rollups rebuilt from its partials",
                 partition, marks, offset, rebuilt)
        return True

    @app.timer(READ_BACK_EVERY)
    async def read_back_idle() -> None:
        """Partials partitions this worker was given with nothing left on them to read: their marks
        are read back now. Otherwise a first partial would prompt it, and at the end of a stream
        none comes: the days' own slots waiting in those marks were never written."""
        try:
            assigned = app.consumer.assignment()
        except ConsumerNotStarted:
            return
        waiting = {tp.partition for tp in assigned if tp.topic == t.partials.name} - restored - set(restoring)
        if not waiting:
            return
        given = {p: revocations[p] for p in waiting}
        try:
            idle = await nothing_left(cfg.kafka, cfg.kafka.app_id, t.partials.name, waiting, f"{cfg.kafka.app_id}-rewind")
        except KafkaError as e:  # the next tick asks again
            log.info("partials partitions' committed offsets not read (%s)", type(e).__name__)
            return
        for partition, offset in idle.items():
            if revocations[partition] == given[partition] and partition not in restored and partition not in restoring:
                _restoring(partition, offset)

    @app.agent(partials, name="own_windows", supervisor_strategy=CrashingSupervisor)
    async def own_windows(stream: faust.StreamT) -> None:
        async for event in stream.noack().events():
            message = event.message
            if message.partition not in restored and not await restored_before(message.partition, message.offset):
                continue
            acks.received(event)
            owner.hold(replay.at(message.partition, message.offset, lambda: app.consumer.highwater(message.tp)))
            cpu = time.thread_time()
            partial = orjson.loads(event.value)
            emission = owner.merge(partial, event, message.partition, time.monotonic(), message.offset)
            if partial.get("span") not in (EVENTS, owner.base.span) or partial.get("heartbeat"):
                # A rollup's partial waits up to a day for its rollup: it must not hold the commit (and
                # every partial after it in memory) that long. Its rollup is rebuilt from later ones only.
                # A heartbeat is done once read; no commit of its own (faust's timer commits it).
                for done in acks.done([event]):
                    done.ack()
            metrics.cpu.labels("windows").inc(time.thread_time() - cpu)
            await emit(emission)

    @app.timer(1.0)
    async def close_idle_windows() -> None:
        cpu = time.thread_time()
        emission = owner.idle(time.monotonic(), time.time())
        metrics.cpu.labels("windows").inc(time.thread_time() - cpu)
        await emit(emission)

    @app.timer(METRICS_EVERY)
    async def report() -> None:
        raw_loop = parts.raw_loop
        if raw_loop is None:
            return
        metrics.watch_keys(raw_loop.rings.values())
        metrics.set_lag(raw_loop.lag())

    @app.on_partitions_revoked.connect
    async def forget_revoked(app: faust.App, revoked: set[TP], **_: Any) -> None:
        partitions = {tp.partition for tp in revoked if tp.topic == t.partials.name}
        owner.revoke(partitions)
        restored.difference_update(partitions)
        for partition in partitions:
            revocations[partition] += 1
        acks.forget(partitions)
        owner.hold(replay.forget(partitions))
        # A read-back under way stops at its next fetch: ended before the partition can come back,
        # it cannot overlap, and undo, the next one's (red-team round 12).
        stale = [task for p, (_, task) in list(restoring.items()) if p in partitions]
        if stale:
            await asyncio.wait(stale, timeout=STOP_TIMEOUT)
        # What it wrote lands before the next owner reads on (``InFlight``); the rest above is done
        # first, whatever becomes of this wait.
        if partitions:
            settled = await inflight.settled(STOP_TIMEOUT)
            log.info("partials partitions %s given up (%s)", sorted(partitions),
                     "outputs delivered" if settled else f"outputs still undelivered after {STOP_TIMEOUT:.0f} s")

    return app


class _Parts:
    """What the raw loop task makes once faust's loop runs, for the window owners and the timers."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()  # set once the sink is started
        self.emitter: Emitter | None = None
        self.raw_loop: RawLoop | None = None


class _Quiet(logging.Filter):
    """Passes each message once (aiokafka logs "Topic ... not found in cluster metadata" at every
    metadata refresh while an output topic is missing), and drops mode's own crash notice: the
    worker has already said why it stops, in one line."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self._seen or "We experienced a crash" in message:
            return False
        self._seen.add(message)
        return True


def run(cfg: Config, log_level: str | None = None) -> int:
    """Run a worker until SIGTERM/SIGINT (exit 0) or until an output or shared topic fails (exit 1);
    ``log_level`` (from the command line) overrides ``logging.level``."""
    master = master_key.load()
    asyncio.run(guard.assert_raw_zone_safe(cfg))  # a refusal is the CLI's one line, before anything runs
    level = log_level or cfg.logging.level
    # Ours, not mode's: mode leaves the root logger at DEBUG (every client debug record, which
    # quotes message values, would still be built) and has no JSON or redaction.
    logs.setup_logging(level, cfg.logging.json)
    log.info("%s", native.describe())
    quiet = _Quiet()
    for name in ("aiokafka.cluster", "mode.worker", "faust.worker"):
        logging.getLogger(name).addFilter(quiet)
    asyncio.set_event_loop(asyncio.new_event_loop())  # faust's, now that the guard's loop is closed
    metrics, health = WorkerMetrics(), Health()
    worker: faust.Worker | None = None

    def fail(error: BaseException) -> None:
        """Log once and stop with exit status 1: nothing past the failure was acknowledged, so a
        restart processes it again."""
        if worker is None or worker.crash_reason is not None:
            return
        log.error("%s", error)
        worker.crash_reason = error
        asyncio.ensure_future(worker.stop())

    with serving(cfg.metrics, metrics.registry, health):
        app = build_app(cfg, master, metrics, health, fail)
        worker = faust.Worker(app, loglevel=level, quiet=True, redirect_stdouts=False, override_logging=False)
        with few_collections():
            worker.execute_from_commandline()  # exits: 1 after fail(), 0 after a signal
    return 0
