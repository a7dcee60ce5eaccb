"""``logscrub ship``: lines from files or stdin to ``logs.raw``, at least once, never stalling its writer.

Why a failed delivery replaces the producer, how the spool works and what a saved position means:
docs/architecture.md, "The shipper".
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
from logscrub.files.follow import Follower, Line, OffsetFile, Position, input_key
from logscrub.files.read import STDIN
from logscrub.files.spool import Segment, Spool, SpoolBusy
from logscrub.kafka.refusals import refusal, refused_clearly
from logscrub.kafka.settings import kafka_python_kwargs
from logscrub.ops.metrics import Health, MetricsError, MetricsServer, ShipperMetrics
from logscrub.parsing.shipped import client_key

log = logging.getLogger("logscrub.ship")

MAX_UNACKED = 20_000  # lines in memory, handed to the producer and not yet acknowledged
MAX_UNACKED_BYTES = 32 << 20
SEND_BATCH = 2_000  # lines handed to the producer per step: reading never waits long behind sending
SPILL_AFTER_S = 5.0  # no acknowledgement for this long: lines in memory and new lines go to the spool
POLL_S = 0.1  # how long an idle shipper waits for input or acknowledgements
SAVE_EVERY_S = 1.0
STOP_GRACE_S = 5.0  # after stop: how long lines in flight may take before they are spooled instead
CLOSE_TIMEOUT_S = 10.0
SPOOL_BUSY_WARN_S = 30.0
BOOTSTRAP_TIMEOUT_MS = 10_000
REQUEST_TIMEOUT_MS = 30_000
DELIVERY_TIMEOUT_MS = 10 * 60 * 1000  # then the line is sent again, by a new producer
MAX_BLOCK_MS = 30_000  # waiting for the topic's metadata (does the topic exist?)
# Failures after which the producer reset its idempotence state: sending again is safe.
_RESET = (OutOfOrderSequenceNumberError, UnknownProducerIdError, InvalidProducerEpochError)


class ShipError(Refused):
    """Kafka cannot take the lines: no broker, no topic, or a refusal that retrying won't fix."""


class NoBroker(ShipError):
    """No broker answered at the bootstrap servers."""


@dataclass
class ShipStats:
    lines_read: int = 0
    lines_sent: int = 0  # acknowledged by the broker (lines from an earlier run's spool included)
    retries: int = 0  # lines sent again after their delivery failed
    lines_spooled: int = 0  # written to the spool because the broker had not taken them in time
    lines_dropped: int = 0  # counted, never silent: spool full, past security.window, or damaged
    spool_before: int = 0  # lines an earlier run left in the spool, sent before new ones
    spool_after: int = 0  # lines left in the spool for the next run

    def summary(self) -> str:
        """One line for the end of a run; says when lines were dropped, and what waits in the spool."""
        text = f"lines read: {self.lines_read}  sent: {self.lines_sent}  retries: {self.retries}"
        if self.lines_spooled or self.spool_before or self.spool_after:
            text += f"  spooled: {self.lines_spooled}"
        if self.spool_before:
            text += f"  from an earlier run's spool: {self.spool_before}"
        if self.spool_after:
            text += f"  left in the spool for the next run: {self.spool_after}"
        if self.lines_dropped:
            text += f"  DROPPED: {self.lines_dropped} (spool full or lines past security.window; see the log)"
        return text


class _Entry:
    """A line in memory, in reading order, until the broker acknowledges it (or it is dropped)."""

    __slots__ = ("line", "future", "segment", "read_at", "since", "seq", "dropped", "tried")

    def __init__(self, line: Line, seq: int, read_at: float, segment: Segment | None = None) -> None:
        self.line = line
        self.future: FutureRecordMetadata | None = None  # None: waiting for a producer
        self.segment = segment  # the spool segment holding it too, if any
        self.read_at = read_at  # wall time it was read: it may not be sent after security.window
        self.since = time.monotonic()  # when it was last handed to a producer
        self.seq = seq
        self.dropped = False
        self.tried = False  # handed to a producer at least once

    @property
    def done(self) -> bool:
        return self.dropped or (self.future is not None and self.future.succeeded())


def ship(
    cfg: Config,
    inputs: list[str],
    follow: bool,
    offsets_path: str | None = None,
    stop: threading.Event | None = None,
) -> ShipStats:
    """Send every line of ``inputs`` to the raw topic; with ``follow`` or stdin, until ``stop`` is set.

    Files given once without ``follow`` need the broker at start (ShipError otherwise); stdin and
    followed files start without it, and spool what it does not take.
    """
    offsets = OffsetFile(offsets_path) if offsets_path else None
    saved = offsets.load() if offsets else {}
    if offsets is not None:
        offsets.save(saved)  # an unwritable offset file fails now, before any line is sent
    long_running = follow or STDIN in map(input_key, inputs)
    spool = None
    if cfg.ship.spool_max_bytes:
        spool = Spool(cfg.ship.spool_dir, cfg.ship.spool_max_bytes, cfg.security.window)
    # Longer lines are rejected by the worker as too long from their first max_line_bytes
    # anyway; cutting them here keeps them under the broker's message size limit.
    follower = Follower(inputs, follow, saved, max_line=cfg.input.max_line_bytes + 1)
    metrics, health = ShipperMetrics(cfg.ship.spool_max_bytes), Health()
    # Apache starts a new piped logger before the one it stopped has exited: on stdin, the metrics
    # port and the spool that one still holds are taken over when it lets them go.
    server: _Server | None = None
    try:
        server = _Server(cfg, metrics, health, wait=follower.has_stdin)
        before = 0
        spool_open = False
        if spool is not None:
            try:
                before = spool.open()  # SpoolError (a bad directory) ends the run here
                spool_open = True
            except SpoolBusy:
                pass  # retried every second
        producer = None if long_running else _connect(cfg.kafka, cfg.topics.raw.name)
        shipment = _Shipment(cfg, producer, follower, offsets, saved, metrics, health, inputs, spool, spool_open)
        shipment.server = server
        shipment.stats.spool_before = before
        return shipment.run(stop or threading.Event())
    finally:
        follower.close()
        if spool is not None:
            spool.close()
        if server is not None:
            server.close()


class _Server:
    """The metrics server, if ``metrics.port`` asks for one; with ``wait``, a taken port is tried again."""

    def __init__(self, cfg: Config, metrics: ShipperMetrics, health: Health, wait: bool) -> None:
        self.cfg, self.metrics, self.health, self.wait = cfg.metrics, metrics, health, wait
        self.server: MetricsServer | None = None
        self.missing = cfg.metrics.port != 0
        self.warned = False
        self.retry()

    def retry(self) -> None:
        if not self.missing:
            return
        try:
            self.server = MetricsServer(self.metrics.registry, self.health, self.cfg.host, self.cfg.port)
        except MetricsError as e:
            if not self.wait:
                raise
            if not self.warned:
                log.warning("%s; serving metrics as soon as the port is free (a shipper still stopping?)", e)
                self.warned = True
            return
        self.missing = False

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def _connect(k: KafkaConfig, topic: str) -> KafkaProducer:
    """A producer that has the raw topic's metadata; NoBroker when no broker answers, ShipError when
    the topic is missing, Refused when Kafka turns the login or the principal away."""
    servers = k.bootstrap_servers
    try:
        with refused_clearly(k, "WRITE", f"topic {topic}"):
            producer = _new_producer(k)
    except KafkaTimeoutError:
        raise NoBroker(f"no Kafka broker answered at {servers}") from None
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


def _close_later(producer: KafkaProducer) -> None:
    """Close a producer given up on, in a thread of its own: reading never waits for it."""
    threading.Thread(target=_close, args=(producer, 0), name="ship-close", daemon=True).start()


def _worth_resending(exc: BaseException) -> bool:
    return bool(getattr(exc, "retriable", False)) or isinstance(exc, _RESET)


class _Connector:
    """Makes producers in a thread of its own, so a broker that is away never holds up reading."""

    def __init__(self, k: KafkaConfig, topic: str) -> None:
        self.k = k
        self.topic = topic
        self.results: queue.SimpleQueue[tuple[KafkaProducer | None, BaseException | None]] = queue.SimpleQueue()
        self.busy = False
        self._cancelled = threading.Event()

    def start(self) -> None:
        if not self.busy and not self._cancelled.is_set():
            self.busy = True
            threading.Thread(target=self._run, name="ship-connect", daemon=True).start()

    def _run(self) -> None:
        try:
            producer = _connect(self.k, self.topic)
        except BaseException as e:  # noqa: BLE001 (handed to the shipping thread, which decides)
            self.results.put((None, e))
            return
        if self._cancelled.is_set():
            _close(producer, 0)
        else:
            self.results.put((producer, None))

    def poll(self) -> tuple[KafkaProducer | None, BaseException | None] | None:
        try:
            result = self.results.get_nowait()
        except queue.Empty:
            return None
        self.busy = False
        return result

    def cancel(self) -> KafkaProducer | None:
        """No more producers; one made meanwhile is closed (and returned, if already made, to close)."""
        self._cancelled.set()
        result = self.poll()
        return result[0] if result else None


def _no_key(_line: bytes) -> None:
    return None


class _Shipment:
    def __init__(
        self,
        cfg: Config,
        producer: KafkaProducer | None,
        follower: Follower,
        offsets: OffsetFile | None,
        saved: Mapping[str, Position],
        metrics: ShipperMetrics,
        health: Health,
        inputs: list[str],
        spool: Spool | None,
        spool_open: bool,
    ) -> None:
        self.cfg = cfg
        self.topic = cfg.topics.raw.name
        self.window_s = float(cfg.security.window)
        # Behind trusted proxies the first address is a proxy's: keyed by it, a few partitions would take all.
        self.key = _no_key if cfg.ip.trusted_proxies else client_key
        self.producer = producer  # None while connecting, and between a failure and a new producer
        self.connector = _Connector(cfg.kafka, self.topic)
        self.connected_once = producer is not None
        self.broker_away_since: float | None = None
        self.follower = follower
        self.offsets = offsets
        self.spool = spool
        self.spool_open = spool_open
        self.spool_busy_since = None if spool_open or spool is None else time.monotonic()
        self.window: deque[_Entry] = deque()  # in reading order
        self.window_bytes = 0
        self.unsent: deque[_Entry] = deque()  # entries waiting to be handed to a producer, in order
        self.held: deque[Line] = deque()  # file lines read but not placed: no room yet
        self.seq = 0
        self.oldest_since: float | None = None  # when the first line in memory was last handed to a producer
        # Each input's last safe position, with the order it was read in: (seq, position).
        self.acked: dict[str, tuple[int, Position]] = {key: (0, p) for key, p in saved.items()}
        self.spooled: dict[str, tuple[int, Position]] = {}
        self.saved = dict(saved)
        self.failed: queue.SimpleQueue[tuple[_Entry, object, BaseException]] = queue.SimpleQueue()
        self.progress = threading.Event()  # set by the producer's thread on every outcome
        self.fatal: BaseException | None = None
        self.stopping = False
        self.spooling_since: float | None = None
        self.dropping: int | None = None  # lines dropped since the spool became full, while it is
        self.saved_at = time.monotonic()
        self.stats = ShipStats()
        self.server: _Server | None = None
        self.metrics = metrics
        self.health = health
        self.input_labels: dict[str, str] = {}  # input key -> its number on the command line
        for i, name in enumerate(inputs):
            self.input_labels.setdefault(input_key(name), str(i))
        self._show_positions()
        if producer is not None:
            health.set_ready(True)

    # --- the loop ---

    def run(self, stop: threading.Event) -> ShipStats:
        try:
            if self.producer is None:
                self.connector.start()
            self._ship(stop)
            self._finish()
        finally:
            late = self.connector.cancel()
            if late is not None:
                _close(late, 0)
            if self.producer is not None:
                _close(self.producer, CLOSE_TIMEOUT_S)
                self.producer = None
        if self.spool is not None and self.spool_open:
            self.stats.spool_after = self.spool.unfinished
        self._show_spool()
        if self.fatal is not None:
            if isinstance(self.fatal, AuthorizationError):
                why = str(refusal(self.cfg.kafka, self.fatal, "WRITE", f"topic {self.topic}"))
            elif isinstance(self.fatal, Refused):
                if not self.stats.lines_read and not self.stats.spool_after:
                    raise self.fatal  # nothing read, nothing waiting: the refusal says it all
                why = str(self.fatal)
            else:
                why = f"Kafka refused lines for topic {self.topic} ({type(self.fatal).__name__})"
            if self.stats.spool_after:
                why += f"; {self.stats.spool_after} lines wait in the spool for the next run"
            if self.offsets is not None:
                why += "; positions are saved up to the last line acknowledged or spooled"
            raise ShipError(why)
        return self.stats

    def _ship(self, stop: threading.Event) -> None:
        """Read and send until stopped; at the end of the input, until everything is acknowledged."""
        while self.fatal is None and not stop.is_set():
            self._step()
            if self._read():
                continue
            if self.follower.exhausted and not self.held and self._all_acknowledged() and self.connected_once:
                return  # (an input that ended at once still learns whether Kafka takes its lines)
            self._idle()
        self.stopping = True

    def _finish(self) -> None:
        """Stopping: lines in flight get a few seconds; whatever is still unacknowledged is spooled."""
        if self.stopping and self.fatal is None:
            deadline = time.monotonic() + STOP_GRACE_S
            while (self.producer is not None and self._in_flight() and not self._stalled()
                   and time.monotonic() < deadline):
                self._step()
                if not self._read():
                    self._idle()
        if self.producer is not None:
            for entry in self.window:  # what closing fails is spooled below, not an error
                if not entry.done:
                    entry.future = None
            _close(self.producer, CLOSE_TIMEOUT_S if not self.stopping else 1.0)
            self.producer = None
            self.health.set_ready(False)
        self._settle()
        self._spill(finishing=True)
        self._save()

    def _step(self) -> None:
        self.progress.clear()
        self._poll_connector()
        self._settle()
        self._send_some()
        self._feed()
        self._place_held()
        now = time.monotonic()
        if now - self.saved_at >= SAVE_EVERY_S:
            self._every_second()

    def _every_second(self) -> None:
        if self.server is not None:
            self.server.retry()
        if self.spool is not None and not self.spool_open:
            self._open_spool()
        if self.spool is not None and self.spool_open:
            expired = self.spool.expire()
            if expired:
                log.error(
                    "%d spooled lines were older than security.window and were deleted unsent", expired
                )
                self._count_dropped(expired, "expired")
            if self.spool.lost:
                self._count_dropped(self.spool.lost, "damaged")
                self.spool.lost = 0
        self._save()

    def _idle(self) -> None:
        if self.follower.has_stdin and not self.follower.exhausted:
            self.follower.wait(POLL_S)
        else:
            self.progress.wait(POLL_S)

    def _all_acknowledged(self) -> bool:
        spooled = self.spool.unfinished if self.spool is not None and self.spool_open else 0
        return not self.window and not spooled

    def _in_flight(self) -> bool:
        return any(not e.done and e.future is not None for e in self.window)

    # --- reading and placing lines ---

    def _read(self) -> bool:
        """Read what the inputs have now and place it; False when there was nothing."""
        files = not self.held and not self.stopping
        lines = self.follower.read(files=files)
        for line in lines:
            if line.position is not None and self.held:
                self.held.append(line)  # behind the lines of files that wait for room
            elif not self._place(line):
                if line.position is None:
                    self._drop_new(1)  # stdin cannot wait: the writer would block
                else:
                    log.warning("the spool %s is full: followed files wait, their lines stay in the files",
                                self.spool.directory if self.spool else "")
                    self.held.append(line)  # a file can: its lines stay in it
        return bool(lines)

    def _place_held(self) -> None:
        while self.held and self._place(self.held[0]):
            self.held.popleft()

    def _place(self, line: Line) -> bool:
        """The line goes to the window (and the producer) or to the spool; False if neither has room.

        A file's line goes to the spool only while the broker stalls (its file may rotate away
        meanwhile); otherwise it waits in its file until the window has room and the spool is sent.
        """
        self.seq += 1
        pending = self._spool_pending()
        full = self._window_full()
        stalled = self._stalled()
        if line.position is not None and not stalled and not self.stopping and (pending or full):
            return False
        if pending or self.stopping or full or stalled:
            if self._spool_usable():
                if not pending:
                    self._spill()
                if self.spool is not None and self.spool.append(line.data) is not None:
                    self._counted_in(line, spooled=True)
                    return True
            if self._spool_pending():
                return False  # nothing may pass the lines waiting in the spool
        if self._window_full():
            return False
        entry = _Entry(line, self.seq, time.time())
        self.window.append(entry)
        self.window_bytes += len(line.data)
        self.unsent.append(entry)
        self._counted_in(line, spooled=False)
        return True

    def _counted_in(self, line: Line, spooled: bool) -> None:
        self.stats.lines_read += 1
        self.metrics.lines_read.inc()
        if self.dropping is not None:
            log.error("the spool has room again: %d lines from stdin were dropped while it was full", self.dropping)
            self.dropping = None
        if spooled:
            self.stats.lines_spooled += 1
            self.metrics.spooled.inc()
            if line.position is not None:
                self.spooled[line.position.path] = (self.seq, line.position)
            if self.spooling_since is None:
                self.spooling_since = time.monotonic()
                log.warning(
                    "the broker has not acknowledged lines for %.0fs: spooling to %s",
                    SPILL_AFTER_S, self.spool.directory if self.spool else "",
                )

    def _drop_new(self, n: int) -> None:
        self.stats.lines_read += n
        self.metrics.lines_read.inc(n)
        self._count_dropped(n, "spool_full")
        if self.dropping is None:
            self.dropping = 0
            where = f"the spool {self.spool.directory} is full" if self.spool_open and self.spool else (
                "no spool is configured (ship.spool_max_bytes: 0)" if self.spool is None
                else "the spool is held by another process"
            )
            log.error(
                "%s and %d lines wait in memory: dropping lines from stdin until the broker takes some "
                "(counted in logscrub_ship_dropped_lines_total)", where, len(self.window),
            )
        self.dropping += n

    def _count_dropped(self, n: int, reason: str) -> None:
        self.stats.lines_dropped += n
        self.metrics.dropped.labels(reason).inc(n)

    def _window_full(self) -> bool:
        return len(self.window) >= MAX_UNACKED or self.window_bytes >= MAX_UNACKED_BYTES

    def _stalled(self) -> bool:
        """The oldest line in memory (as of the last settling) has waited for its acknowledgement longer
        than SPILL_AFTER_S."""
        return self.oldest_since is not None and time.monotonic() - self.oldest_since > SPILL_AFTER_S

    def _spool_usable(self) -> bool:
        return self.spool is not None and self.spool_open

    def _spool_pending(self) -> bool:
        return self.spool is not None and self.spool_open and self.spool.pending > 0

    def _spill(self, finishing: bool = False) -> None:
        """Write the lines in memory that are on disk nowhere else to the spool, in order.

        Before spooling (so a crash loses none of them, and positions may pass them), and at the end
        (so the next run sends them).
        """
        if not self._spool_usable():
            if finishing:
                lost = [e for e in self.window if not e.done and e.line.position is None]
                if lost:
                    log.error("%d lines from stdin were neither acknowledged nor spooled when ship stopped",
                              len(lost))
                    self._count_dropped(len(lost), "stopped")
            return
        assert self.spool is not None
        taken = not finishing  # still being sent: not to be taken from the spool again in this run
        for entry in self.window:
            if entry.done or entry.segment is not None:
                continue
            segment = self.spool.append(entry.line.data, oldest=entry.read_at, taken=taken)
            if segment is None:
                if finishing:
                    rest = [e for e in self.window if not e.done and e.segment is None and e.line.position is None]
                    if rest:
                        log.error("the spool is full: %d lines from stdin were neither acknowledged nor spooled "
                                  "when ship stopped", len(rest))
                        self._count_dropped(len(rest), "stopped")
                return
            entry.segment = segment  # on disk: positions may pass it, and the next run sends it if need be
            self.stats.lines_spooled += 1
            self.metrics.spooled.inc()

    def _open_spool(self) -> None:
        assert self.spool is not None
        try:
            before = self.spool.open()
        except SpoolBusy as e:
            if self.spool_busy_since is not None and time.monotonic() - self.spool_busy_since > SPOOL_BUSY_WARN_S:
                log.warning("%s for %.0fs: this shipper runs without a spool; give each shipper its own "
                            "ship.spool_dir", e, SPOOL_BUSY_WARN_S)
                self.spool_busy_since = None  # said once
            return
        self.spool_open = True
        self.spool_busy_since = None
        self.stats.spool_before += before

    # --- sending ---

    def _poll_connector(self) -> None:
        if self.producer is not None:
            return
        result = self.connector.poll()
        if result is None:
            if not self.connector.busy:
                self.connector.start()
            return
        producer, exc = result
        if producer is not None:
            self._use(producer)
            return
        assert exc is not None
        if isinstance(exc, NoBroker) or (isinstance(exc, ShipError) and self.connected_once):
            if not self.connected_once and self.follower.exhausted:
                self.fatal = exc  # nothing more to read, and never a broker: a mistyped address
                return
            if self.broker_away_since is None:
                self.broker_away_since = time.monotonic()
                where = f"; lines beyond the {MAX_UNACKED} kept in memory go to the spool {self.spool.directory}" if (
                    self.spool is not None) else ""
                log.warning("%s; reading on and trying again%s", exc, where)
            self.connector.start()
        elif isinstance(exc, Refused) or not self.connected_once:
            self.fatal = exc  # a missing topic at start, or a login or principal turned away: not worth waiting for
        else:
            log.warning("connecting to Kafka failed (%s); trying again", type(exc).__name__)
            self.connector.start()

    def _use(self, producer: KafkaProducer) -> None:
        if self.broker_away_since is not None:
            log.warning("the broker answers again after %.0fs", time.monotonic() - self.broker_away_since)
            self.broker_away_since = None
        self.producer = producer
        self.connected_once = True
        self.health.set_ready(True)
        resend = [e for e in self.window if not e.done]
        retried = sum(1 for e in resend if e.tried)
        for entry in resend:
            entry.future = None
        self.unsent = deque(resend)
        self.stats.retries += retried
        self.metrics.retries.inc(retried)

    def _send_some(self) -> None:
        if self.producer is None:
            return
        now = time.time()
        sent = expired = 0
        while self.unsent and sent < SEND_BATCH and self.producer is not None:
            entry = self.unsent.popleft()
            if entry.done or entry.future is not None:
                continue
            if now - entry.read_at > self.window_s:
                entry.dropped = True
                expired += 1
                continue
            self._send(entry)
            sent += 1
        if expired:
            log.error("%d lines waited longer than security.window for the broker and were dropped", expired)
            self._count_dropped(expired, "expired")

    def _send(self, entry: _Entry) -> None:
        assert self.producer is not None
        try:
            future = self.producer.send(self.topic, entry.line.data, key=self.key(entry.line.data))
        except KafkaError as e:
            self._give_up_producer(e)
            return
        entry.future = future
        entry.since = time.monotonic()
        entry.tried = True
        future.add_callback(self._acked)
        future.add_errback(self._failed, entry, future)

    def _acked(self, _metadata: object) -> None:
        self.progress.set()

    def _failed(self, entry: _Entry, future: object, exc: BaseException) -> None:
        self.failed.put((entry, future, exc))
        self.progress.set()

    def _feed(self) -> None:
        """Lines from the spool to the producer, in order, as the window has room."""
        spool = self.spool
        if spool is None or not self.spool_open or not spool.pending or self.producer is None:
            return
        room = min(MAX_UNACKED - len(self.window), SEND_BATCH)
        if room <= 0 or self.window_bytes >= MAX_UNACKED_BYTES or self._stalled():
            return
        for segment, data in spool.take(room):
            entry = _Entry(Line(data, None), self.seq, segment.oldest, segment)
            self.window.append(entry)
            self.window_bytes += len(data)
            self.unsent.append(entry)
        if not spool.pending and self.spooling_since is not None:
            log.warning("the spool is sent: %.0fs after spooling began", time.monotonic() - self.spooling_since)
            self.spooling_since = None

    def _settle(self) -> None:
        """Act on failed deliveries, and move past the lines done in reading order."""
        while True:
            try:
                entry, future, exc = self.failed.get_nowait()
            except queue.Empty:
                break
            if entry.future is future:  # not a line already given to a newer producer
                self._give_up_producer(exc)
        window = self.window
        sent = 0
        while window and window[0].done:
            entry = window.popleft()
            self.window_bytes -= len(entry.line.data)
            if not entry.dropped:
                sent += 1
            if entry.segment is not None and self.spool is not None:
                self.spool.done(entry.segment)
            position = entry.line.position
            if position is not None:
                self.acked[position.path] = (entry.seq, position)
        self.oldest_since = window[0].since if window else None
        self.metrics.unacked.set(len(window))
        if sent:
            self.stats.lines_sent += sent
            self.metrics.lines_sent.inc(sent)

    def _give_up_producer(self, exc: BaseException) -> None:
        if not _worth_resending(exc):
            self.fatal = self.fatal or exc
            return
        if self.producer is None:
            return
        log.warning("a delivery failed (%s); sending unacknowledged lines again with a new producer",
                    type(exc).__name__)
        for entry in self.window:
            if not entry.done:
                entry.future = None  # what the old producer still reports about it is stale
        _close_later(self.producer)
        self.producer = None
        self.health.set_ready(False)
        self.connector.start()

    # --- positions ---

    def _save(self) -> None:
        """Save each input's position after its last line that is safe: acknowledged, dropped or spooled
        (synced first), with every line read before it."""
        self.saved_at = time.monotonic()
        if self.spool is not None and self.spool_open:
            self.spool.sync()
        positions = dict(self.acked)
        safe = True
        for entry in self.window:
            if not (entry.done or entry.segment is not None):
                safe = False
                break
            if entry.line.position is not None:
                positions[entry.line.position.path] = (entry.seq, entry.line.position)
        if safe:
            for key, (seq, position) in self.spooled.items():
                if key not in positions or positions[key][0] < seq:
                    positions[key] = (seq, position)
        current = {key: position for key, (_, position) in positions.items()}
        if current != self.saved:
            if self.offsets is not None:
                self.offsets.save(current)
            self.saved = current
            self._show_positions()
        self._show_spool()

    def _show_positions(self) -> None:
        for key, label in self.input_labels.items():
            position = self.saved.get(key)
            if position is not None:
                self.metrics.position.labels(label).set(position.offset)

    def _show_spool(self) -> None:
        if self.spool is not None and self.spool_open:
            self.metrics.spool_bytes.set(self.spool.bytes)
            self.metrics.spool_lines.set(self.spool.unfinished)
