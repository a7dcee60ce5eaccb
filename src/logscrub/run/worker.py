"""``logscrub worker``: the raw loop (``rawloop``) and the window owners (``windows``) in one faust app.

Which consumer group owns what, and how nothing is lost, is in docs/architecture.md and docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from typing import Any, NoReturn

import faust
import orjson
from aiokafka.errors import (
    KafkaError,
    LeaderNotAvailableError,
    NotLeaderForPartitionError,
    UnknownTopicOrPartitionError,
)
from faust.exceptions import ProducerSendError
from faust.types import TP
from mode import CrashingSupervisor

from logscrub.ops import logsetup as logs
from logscrub.scrub import build
from logscrub.config import Config
from logscrub.scrub.scrubber import Scrubber
from logscrub.kafka.settings import faust_broker_kwargs
from logscrub.run.rawloop import OutputFailed, RawLoop
from logscrub.run.windows import Emission, WindowOwner
from logscrub.kafka.keystore import KafkaKeyStore
from logscrub.kafka.restrictions import Restrictions
from logscrub.ops.metrics import Health, WorkerMetrics, serving
from logscrub.crypto import master as master_key
from logscrub.crypto.master import MasterKey
from logscrub.crypto.subjects import SubjectKeys

log = logging.getLogger("logscrub.worker")

METRICS_EVERY = 5.0  # seconds between updates of the lag and key metrics
# How long the producer retries an output the broker does not take (faust's default is 20 minutes)
# before the worker gives up on it and stops; well above a broker restart.
OUTPUT_TIMEOUT = 30.0
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


def build_app(cfg: Config, metrics: WorkerMetrics, health: Health, scrubber: Scrubber | None = None) -> faust.App:
    """The faust app for ``cfg``; topics must exist (``logscrub topics apply``)."""
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
        producer_acks=-1,
        producer_request_timeout=OUTPUT_TIMEOUT,
        producer_compression_type="gzip",
        producer_linger=0.02,  # batch outputs: one produce request per line would cap us at ~1k lines/s
        producer_max_batch_size=512 * 1024,
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
    if scrubber is None:
        scrubber = _shared_key_scrubber(cfg, master_key.load())
    owner: WindowOwner[faust.types.EventT] = WindowOwner(
        build.aggregator(cfg.aggregate), idle_s=max(cfg.aggregate.allowed_lateness, 1)
    )
    raw_loop = RawLoop(cfg, scrubber, build.aggregator(cfg.aggregate), metrics, health, OUTPUT_TIMEOUT)

    async def emit(emission: Emission[faust.types.EventT] | None) -> None:
        """Write a window's records, then acknowledge and commit its partials once the broker has
        them all. faust commits on its own timer even when a delivery failed, and a crash within
        that second would emit the windows again (counted twice in analytics.traffic)."""
        if emission is None:
            return
        written = []
        for rec in emission.records:
            try:
                written.append(await app.producer.send(t.traffic.name, None, orjson.dumps(rec), None, None, None))
            except ProducerSendError as e:
                give_up(OutputError(t.traffic.name, e.__cause__ or e))
        metrics.emitted(len(emission.records), emission.window_ends, time.time())

        async def acknowledge() -> None:
            for outcome in await asyncio.gather(*written, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    give_up(OutputError(t.traffic.name, outcome))
            for event in emission.acks:
                event.ack()
            try:
                await app.consumer.commit()
            except KafkaError as e:  # a rebalance meanwhile: the timer's next commit tries again
                log.info("window partials not committed at once (%s)", type(e).__name__)

        app.add_future(acknowledge())

    @app.task
    async def scrub() -> None:
        try:
            await raw_loop.run()
        except OutputFailed as e:
            give_up(OutputError(e.topic, e.cause))
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # noqa: BLE001 - any other end of the hot path ends the worker
            log.error("the raw topic loop stopped (%s)", type(e).__name__)
            logging.shutdown()
            os._exit(1)

    @app.agent(partials, name="own_windows", supervisor_strategy=CrashingSupervisor)
    async def own_windows(stream: faust.StreamT) -> None:
        async for event in stream.noack().events():
            await emit(owner.merge(orjson.loads(event.value), event, event.message.partition, time.monotonic()))

    @app.timer(1.0)
    async def close_idle_windows() -> None:
        await emit(owner.idle(time.monotonic()))

    @app.timer(METRICS_EVERY)
    async def report() -> None:
        metrics.watch_keys((scrubber.visitor_keys, scrubber.data_keys))
        try:
            metrics.set_lag(raw_loop.lag())
        except KafkaError as e:  # no broker, or a partition revoked meanwhile: the next round tries again
            log.info("consumer lag not measured this round (%s)", type(e).__name__)

    @app.on_partitions_revoked.connect
    async def forget_revoked(app: faust.App, revoked: set[TP], **_: Any) -> None:
        owner.revoke({tp.partition for tp in revoked if tp.topic == t.partials.name})

    return app


def _shared_key_scrubber(cfg: Config, master: MasterKey) -> Scrubber:
    """A scrubber whose keys every worker shares through the keys topic, sealing per subject, and
    following the restrictions; the two topics are read in background threads."""
    store = KafkaKeyStore(cfg.kafka, cfg.topics.keys.name, master)
    subjects = SubjectKeys(store.publish, store.flush)
    store.on_subject_gone = subjects.drop
    store.follow()
    restrictions = Restrictions(cfg.kafka, cfg.topics.restrictions.name, master)
    restrictions.follow()
    visitor, data = build.key_rings(cfg, store)
    return build.scrubber(cfg, cfg.input.format, visitor, data, subjects, restrictions)


def give_up(error: OutputError) -> NoReturn:
    """Exit at once with status 1, as a crash would: faust's orderly stop commits after flushing
    the producer, and that flush waits on the very outputs that cannot be written (it hung in
    tests). Nothing was acknowledged past the failed output, so a restart processes it again."""
    log.error("%s", error)
    logging.shutdown()
    os._exit(1)


class _Once(logging.Filter):
    """Passes each message once: aiokafka logs "Topic ... not found in cluster metadata" at every
    metadata refresh, hundreds a second while an output topic is missing."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self._seen:
            return False
        self._seen.add(message)
        return True


def run(cfg: Config, log_level: str | None = None) -> int:
    """Run a worker until SIGTERM/SIGINT; ``log_level`` (from the command line) overrides ``logging.level``."""
    level = log_level or cfg.logging.level
    # Ours, not mode's: mode leaves the root logger at DEBUG (every client debug record, which
    # quotes message values, would still be built) and has no JSON or redaction.
    logs.setup_logging(level, cfg.logging.json)
    logging.getLogger("aiokafka.cluster").addFilter(_Once())
    metrics, health = WorkerMetrics(), Health()
    with serving(cfg.metrics, metrics.registry, health):
        app = build_app(cfg, metrics, health)
        worker = faust.Worker(app, loglevel=level, quiet=True, redirect_stdouts=False, override_logging=False)
        worker.execute_from_commandline()
    return 0

