"""``logscrub ship``: lines from files or stdin to ``logs.raw``, at least once, in bounded memory.

Why a failed delivery replaces the producer, and how positions are saved: docs/architecture.md.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.errors import (
    AuthorizationError,
    InvalidProducerEpochError,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumberError,
    UnknownProducerIdError,
)
from kafka.producer.future import FutureRecordMetadata

from logscrub.config import Config, KafkaConfig
from logscrub.errors import Refused
from logscrub.kafka.refusals import refusal, refused_clearly
from logscrub.kafka.settings import kafka_python_kwargs
from logscrub.files.follow import Follower, Line, OffsetFile, Position, input_key
from logscrub.ops.metrics import Health, ShipperMetrics, serving

log = logging.getLogger("logscrub.ship")

MAX_UNACKED = 20_000  # lines; plus at most one 64 KiB chunk per input read past it
POLL_S = 0.1  # how often a followed file is checked, and acknowledgements looked at, when idle
SAVE_EVERY_S = 1.0
STOP_GRACE_S = 30.0  # after stop: how long unacknowledged lines may still take
CLOSE_TIMEOUT_S = 10.0
BOOTSTRAP_TIMEOUT_MS = 10_000
REQUEST_TIMEOUT_MS = 30_000
DELIVERY_TIMEOUT_MS = 10 * 60 * 1000  # then the line is sent again, by a new producer
MAX_BLOCK_MS = 30_000  # waiting for the topic's metadata (at start: does the topic exist?)
# Failures after which the producer reset its idempotence state: sending again is safe.
_RESET = (OutOfOrderSequenceNumberError, UnknownProducerIdError, InvalidProducerEpochError)


class ShipError(Refused):
    """Kafka cannot take the lines: no broker, no topic, or a refusal that retrying won't fix."""


@dataclass
class ShipStats:
    lines_read: int = 0
    lines_sent: int = 0  # acknowledged by the broker
    retries: int = 0  # lines sent again after their delivery failed


class _Unacked:
    __slots__ = ("line", "future")

    def __init__(self, line: Line) -> None:
        self.line = line
        self.future: FutureRecordMetadata | None = None  # None: waiting for a producer

    @property
    def acked(self) -> bool:
        return self.future is not None and self.future.succeeded()


def ship(
    cfg: Config,
    inputs: list[str],
    follow: bool,
    offsets_path: str | None = None,
    stop: threading.Event | None = None,
) -> ShipStats:
    """Send every line of ``inputs`` to the raw topic; with ``follow``, until ``stop`` is set."""
    offsets = OffsetFile(offsets_path) if offsets_path else None
    saved = offsets.load() if offsets else {}
    if offsets is not None:
        offsets.save(saved)  # an unwritable offset file fails now, before any line is sent
    # Longer lines are rejected by the worker as too long from their first max_line_bytes
    # anyway; cutting them here keeps them under the broker's message size limit.
    follower = Follower(inputs, follow, saved, max_line=cfg.input.max_line_bytes + 1)
    metrics, health = ShipperMetrics(), Health()
    try:
        with serving(cfg.metrics, metrics.registry, health):
            producer = _connect(cfg.kafka, cfg.topics.raw.name)
            health.set_ready(True)
            shipment = _Shipment(cfg, producer, follower, offsets, saved, metrics, health, inputs)
            return shipment.run(stop or threading.Event())
    finally:
        follower.close()


def _connect(k: KafkaConfig, topic: str) -> KafkaProducer:
    """A producer that has the raw topic's metadata; ShipError when there is no broker or topic, Refused
    when Kafka turns the login or the principal away."""
    servers = k.bootstrap_servers
    try:
        with refused_clearly(k, "WRITE", f"topic {topic}"):
            producer = _new_producer(k)
    except KafkaTimeoutError:
        raise ShipError(f"no Kafka broker answered at {servers}") from None
    try:
        with refused_clearly(k, "WRITE", f"topic {topic}"):
            producer.partitions_for(topic)
    except KafkaTimeoutError:
        _close(producer, 0)
        raise ShipError(
            f"topic {topic} was not found on the cluster at {servers} within {MAX_BLOCK_MS // 1000}s "
            "(create it with `logscrub topics apply`)"
        ) from None
    except Refused:
        _close(producer, 0)
        raise
    return producer


def _new_producer(k: KafkaConfig) -> KafkaProducer:
    # kafka-python logs every record value at DEBUG, and values are raw lines.
    send_log = logging.getLogger("kafka.producer.kafka")
    if send_log.getEffectiveLevel() < logging.INFO:
        send_log.setLevel(logging.INFO)
    return KafkaProducer(
        **kafka_python_kwargs(k),
        client_id="logscrub-ship",
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",
        linger_ms=20,
        batch_size=256 * 1024,
        max_in_flight_requests_per_connection=5,
        retries=2**31 - 1,
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
        max_block_ms=MAX_BLOCK_MS,
        reconnect_backoff_max_ms=1000,  # Java's default; kafka-python's 30 s delays recovery
        allow_auto_create_topics=False,
    )


def _close(producer: KafkaProducer, timeout: float) -> None:
    try:
        producer.close(timeout=timeout)
    except KafkaTimeoutError:
        # kafka-python 3.0.12's close() flushes first and raises when that times out, before
        # it would force the close; without this its I/O thread would retry forever.
        producer._sender.force_close()


def _worth_resending(exc: BaseException) -> bool:
    return bool(getattr(exc, "retriable", False)) or isinstance(exc, _RESET)


class _Shipment:
    def __init__(
        self,
        cfg: Config,
        producer: KafkaProducer,
        follower: Follower,
        offsets: OffsetFile | None,
        saved: Mapping[str, Position],
        metrics: ShipperMetrics,
        health: Health,
        inputs: list[str],
    ) -> None:
        self.cfg = cfg
        self.producer: KafkaProducer | None = producer  # None between a failure and a new producer
        self.topic = cfg.topics.raw.name
        self.follower = follower
        self.offsets = offsets
        self.positions = dict(saved)  # inputs this run does not read keep their saved positions
        self.unsaved = False
        self.saved_at = time.monotonic()
        self.window: deque[_Unacked] = deque()  # in reading order
        self.failed: queue.SimpleQueue[tuple[_Unacked, object, BaseException]] = queue.SimpleQueue()
        self.progress = threading.Event()  # set by the producer's thread on every outcome
        self.fatal: BaseException | None = None
        self.stats = ShipStats()
        self.metrics = metrics
        self.health = health
        self.input_labels: dict[str, str] = {}  # input key -> its number on the command line
        for i, name in enumerate(inputs):
            self.input_labels.setdefault(input_key(name), str(i))
        self._show_positions()

    def run(self, stop: threading.Event) -> ShipStats:
        try:
            self._ship(stop)
            deadline = time.monotonic() + STOP_GRACE_S if stop.is_set() or self.fatal else None
            while self.window and self.fatal is None and (deadline is None or time.monotonic() < deadline):
                self._step()
                if self.window:
                    self.progress.wait(POLL_S)
            self._save()
        finally:
            if self.producer is not None:
                _close(self.producer, CLOSE_TIMEOUT_S)
        if self.fatal is not None:
            if isinstance(self.fatal, AuthorizationError):
                why = str(refusal(self.cfg.kafka, self.fatal, "WRITE", f"topic {self.topic}"))
            else:
                why = f"Kafka refused lines for topic {self.topic} ({type(self.fatal).__name__})"
            raise ShipError(f"{why}; positions are saved up to the last acknowledged line")
        return self.stats

    def _ship(self, stop: threading.Event) -> None:
        while not stop.is_set() and self.fatal is None:
            self._step()
            if len(self.window) >= MAX_UNACKED or self.producer is None:
                self.progress.wait(POLL_S)
                continue
            lines = self.follower.read()
            for line in lines:
                entry = _Unacked(line)
                self.window.append(entry)
                self._send(entry)
            self.stats.lines_read += len(lines)
            self.metrics.lines_read.inc(len(lines))
            if not lines:
                if self.follower.exhausted:
                    return
                stop.wait(POLL_S)

    def _step(self) -> None:
        self.progress.clear()
        if self.producer is None:
            self._reconnect()
        self._settle()
        if time.monotonic() - self.saved_at >= SAVE_EVERY_S:
            self._save()

    def _send(self, entry: _Unacked) -> None:
        entry.future = None
        if self.producer is None:
            return
        try:
            future = self.producer.send(self.topic, entry.line.data)
        except KafkaError as e:
            self._give_up_producer(e)
            return
        entry.future = future
        future.add_callback(self._acked)
        future.add_errback(self._failed, entry, future)

    def _acked(self, _metadata: object) -> None:
        self.progress.set()

    def _failed(self, entry: _Unacked, future: object, exc: BaseException) -> None:
        self.failed.put((entry, future, exc))
        self.progress.set()

    def _settle(self) -> None:
        """Act on failed deliveries, and move past the lines acknowledged in reading order."""
        while True:
            try:
                entry, future, exc = self.failed.get_nowait()
            except queue.Empty:
                break
            if entry.future is future:  # not a line already given to a newer producer
                self._give_up_producer(exc)
        window = self.window
        acked = 0
        while window and window[0].acked:
            position = window.popleft().line.position
            acked += 1
            if position is not None:
                self.positions[position.path] = position
                self.unsaved = True
        self.metrics.unacked.set(len(window))
        if acked:
            self.stats.lines_sent += acked
            self.metrics.lines_sent.inc(acked)
            self._show_positions()

    def _show_positions(self) -> None:
        for key, label in self.input_labels.items():
            position = self.positions.get(key)
            if position is not None:
                self.metrics.position.labels(label).set(position.offset)

    def _give_up_producer(self, exc: BaseException) -> None:
        if not _worth_resending(exc):
            self.fatal = self.fatal or exc
            return
        if self.producer is None:
            return
        log.warning("a delivery failed (%s); sending unacknowledged lines again with a new producer",
                    type(exc).__name__)
        for entry in self.window:
            if not entry.acked:
                entry.future = None  # what the old producer still reports about it is stale
        _close(self.producer, 0)
        self.producer = None
        self.health.set_ready(False)

    def _reconnect(self) -> None:
        try:
            producer = _new_producer(self.cfg.kafka)
        except KafkaTimeoutError:
            return  # the broker is still away: the next step tries again
        self.producer = producer
        self.health.set_ready(True)
        resend = [entry for entry in self.window if not entry.acked]
        for entry in resend:
            self._send(entry)
        self.stats.retries += len(resend)
        self.metrics.retries.inc(len(resend))

    def _save(self) -> None:
        if self.offsets is not None and self.unsaved:
            self.offsets.save(self.positions)
            self.unsaved = False
        self.saved_at = time.monotonic()
