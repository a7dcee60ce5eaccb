"""The Kafka worker: faust agents around the same pure core as ``logscrub scrub``.

Two agents per worker, scaled by partitions:

* ``scrub`` reads ``logs.raw`` in batches, writes events, sealed raw lines and rejections, and
  sends the batch's aggregate contribution as partials keyed by (site, window) to the
  partials topic. A batch is acknowledged only after all of that was handed to the producer,
  and faust flushes the producer before it commits offsets: a crash re-reads lines, never
  skips them (at-least-once).
* ``own_windows`` merges the partials of the windows whose partition it owns, and emits a
  window to ``analytics.traffic`` when the watermark or the idle time has passed; the
  partials of a window are acknowledged only after its records were handed to the producer,
  so a crash before emission replays them.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

import faust
import orjson
from faust.types import TP

from logscrub import pipeline
from logscrub.config import Config
from logscrub.core import Scrubber
from logscrub.kafka.shipped import unwrap
from logscrub.keys import KeyFile

log = logging.getLogger("logscrub.worker")

BATCH = 2000
BATCH_WITHIN = 0.25  # seconds: latency bound for a quiet stream


class Counters:
    """Plain counters the worker keeps (exported as metrics by the metrics module)."""

    def __init__(self) -> None:
        self.lines = 0
        self.events = 0
        self.rejected: dict[str, int] = defaultdict(int)
        self.partials_sent = 0
        self.windows_emitted = 0
        self.aggregate_records = 0


def build_app(cfg: Config, scrubber: Scrubber | None = None) -> tuple[faust.App, Counters]:
    """The faust app for ``cfg``; topics must exist (``logscrub topics apply``)."""
    servers = ";".join(f"kafka://{s.strip()}" for s in cfg.kafka.bootstrap_servers.split(","))
    app = faust.App(
        cfg.kafka.app_id,
        broker=servers,
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        topic_allow_declare=False,  # topics and their retention come from `logscrub topics apply`
        topic_disable_leader=True,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
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
    raw = app.topic(t.raw.name, key_type=bytes, value_type=bytes)
    partials = app.topic(t.partials.name, key_type=bytes, value_type=bytes)

    if scrubber is None:
        visitor, data = pipeline.key_rings(cfg, KeyFile(cfg.keys.file))
        scrubber = pipeline.build_scrubber(cfg, cfg.input.format, visitor, data)
    counters = Counters()
    partial_sums = pipeline.build_aggregator(cfg)
    owner = pipeline.build_aggregator(cfg)
    idle = max(cfg.aggregate.allowed_lateness, 1)
    waiting: dict[tuple[str, int], list[faust.types.EventT]] = defaultdict(list)
    dumps = orjson.dumps

    async def send(topic: str, value: bytes, key: bytes | None = None) -> None:
        # Straight to the producer: faust's Topic.send costs more than scrubbing the line. The
        # producer is flushed by faust before every offset commit, so nothing is acknowledged unsent.
        await app.producer.send(topic, key, value, None, None, None)

    @app.agent(raw, name="scrub")
    async def scrub(stream: faust.StreamT) -> None:
        async for batch in stream.take_events(BATCH, within=BATCH_WITHIN):
            now = time.time()
            for event in batch:
                msg = event.message
                o = scrubber.process(unwrap(event.value), now, f"{msg.partition}:{msg.offset}")
                counters.lines += 1
                if o.reason is None:
                    await send(t.events.name, dumps(o.event))
                    await send(t.security.name, dumps(o.sealed))
                    partial_sums.add(o.update)  # type: ignore[arg-type]
                    counters.events += 1
                else:
                    await send(t.rejected.name, dumps(o.sealed))
                    counters.rejected[o.reason] += 1
            for partial in partial_sums.drain_partials():
                key = f"{partial['site']}|{partial['window']}".encode()
                await send(t.partials.name, dumps(partial), key)
                counters.partials_sent += 1
            scrubber.data_keys.expire()
            scrubber.visitor_keys.expire()

    @app.agent(partials, name="own_windows")
    async def own_windows(stream: faust.StreamT) -> None:
        async for event in stream.noack().events():
            partial = orjson.loads(event.value)
            owner.merge_partial(partial, time.monotonic())
            waiting[(partial["site"], int(partial["window"]))].append(event)
            await _emit(owner.close_due())

    @app.timer(1.0)
    async def close_idle_windows() -> None:
        await _emit(owner.close_idle(time.monotonic(), idle))

    async def _emit(records: list[dict[str, Any]]) -> None:
        if not records:
            return
        for rec in records:
            await send(t.traffic.name, dumps(rec))
        counters.aggregate_records += len(records)
        counters.windows_emitted += len(owner.last_closed)
        for wkey in owner.last_closed:
            for event in waiting.pop(wkey, ()):
                event.ack()

    @app.on_partitions_revoked.connect
    async def forget_revoked(app: faust.App, revoked: set[TP], **_: Any) -> None:
        """Windows of a partition we lost are rebuilt by its new owner from the unacknowledged partials."""
        lost = {tp.partition for tp in revoked if tp.topic == t.partials.name}
        if lost:
            for wkey in [w for w, evs in waiting.items() if evs and evs[0].message.partition in lost]:
                del waiting[wkey]
                owner.discard(wkey)

    return app, counters


class _Worker(faust.Worker):
    def _setup_logging(self) -> None:
        super()._setup_logging()
        # mode leaves the root logger at DEBUG and filters in the handler: every debug record is
        # still built (slow), and client libraries' debug records quote message values. Filter at
        # the source, and never below INFO for the Kafka clients whatever --log-level says.
        level = logging.getLevelName(self.loglevel.upper()) if isinstance(self.loglevel, str) else self.loglevel
        logging.getLogger().setLevel(level)
        for name in ("aiokafka", "kafka", "faust.transport"):
            logging.getLogger(name).setLevel(max(level, logging.INFO))


def run(cfg: Config, log_level: str = "WARNING") -> int:
    """Run a worker until SIGTERM/SIGINT."""
    app, _ = build_app(cfg)
    worker = _Worker(app, loglevel=log_level, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0

