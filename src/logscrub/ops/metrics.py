"""Prometheus metrics and the health endpoints of the long-running commands (worker, ship).

Label values come only from fixed sets (topic roles, rejection reasons, partitions, key rings,
input numbers, drop reasons, versions): nothing taken from a line can become a label. The server
never logs requests. Each registry also carries the process collector (``process_*``) and
``logscrub_build_info``; no ``_created`` series are exported (they double the series count and
Prometheus derives nothing from them).
"""

from __future__ import annotations

import platform
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder

from logscrub import __version__
from logscrub.config import MetricsConfig
from logscrub.errors import Refused
from logscrub.crypto.keyring import KeyRing
from logscrub.parsing.formats import REJECT_REASONS

OTHER_REASON = "other"  # the label of a reason outside the set above (which itself never becomes a label)
OUTPUT_ROLES = ("events", "traffic", "security", "rejected", "partials")
KEY_RINGS = ("visitor", "data")
CPU_PARTS = ("scrub", "keys", "windows")
# Why ship dropped a line: no room in the spool (full, held by another process, or none configured),
# older than security.window, unreadable from a damaged spool file, or in memory when ship stopped
# without a spool to put it in.
DROP_REASONS = ("spool_full", "expired", "damaged", "stopped")

disable_created_metrics()  # prometheus_client's public switch; process-wide


def _common(registry: CollectorRegistry, core: str) -> None:
    """What every logscrub process exports: memory, CPU and file descriptors, and its build."""
    ProcessCollector(registry=registry)
    info = Gauge(
        "logscrub_build_info",
        "Always 1: the logscrub version, the Python version and the per-line core (python, or none) "
        "of this process.",
        ["version", "python", "core"],
        registry=registry,
    )
    info.labels(__version__, platform.python_version(), core).set(1)


class MetricsError(Refused):
    """The metrics server cannot listen where the config says."""


class Health:
    """Readiness as the component reports it; liveness is the server answering at all."""

    def __init__(self) -> None:
        self._ready = threading.Event()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def set_ready(self, ready: bool) -> None:
        if ready:
            self._ready.set()
        else:
            self._ready.clear()


class WorkerMetrics:
    """What the worker exports; updated per batch (never per line) and by a timer."""

    def __init__(self, core: str = "python") -> None:
        r = self.registry = CollectorRegistry()
        _common(r, core)
        self.lines_in = Counter("logscrub_worker_lines", "Lines read from the raw topic.", registry=r)
        self.records_out = Counter(
            "logscrub_worker_records", "Records handed to the producer, by output topic role.", ["topic"], registry=r
        )
        self.rejected = Counter("logscrub_worker_rejected_lines", "Lines rejected, by reason.", ["reason"], registry=r)
        self.restricted = Counter(
            "logscrub_worker_restricted_lines",
            "Lines of restricted subjects: sealed to the security topic, kept out of analytics.",
            registry=r,
        )
        self.withheld = Counter(
            "logscrub_worker_withheld_events",
            "Lines sealed only, with no event: it would have been a second event of one client alone in a "
            "group (left out of the aggregates too when the scrubber saw it; counted in them when the window "
            "owner's check, which sees every worker's events, found it), or a replayed line's second copy.",
            registry=r,
        )
        self.batch_seconds = Histogram(
            "logscrub_worker_batch_seconds",
            "Time to scrub a batch of raw lines and hand all its outputs to the producer.",
            registry=r,
        )
        self.lag = Gauge(
            "logscrub_worker_consumer_lag",
            "Raw lines not yet processed, by raw topic partition this worker owns (updated every few seconds).",
            ["partition"],
            registry=r,
        )
        self.emission_delay = Histogram(
            "logscrub_worker_window_emission_delay_seconds",
            "Wall time from the end of an aggregate window to its emission on the traffic topic.",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, float("inf")),
            registry=r,
        )
        self.cpu = Counter(
            "logscrub_worker_cpu_seconds",
            "CPU time of the worker's main thread by part: scrub (the per-line core and routing), keys (claiming "
            "keys, storing subject keys), windows (merging partials, emitting windows); the rest of "
            "process_cpu_seconds_total is the Kafka clients and faust.",
            ["part"],
            registry=r,
        )
        for part in CPU_PARTS:
            self.cpu.labels(part)
        self.suppressed = Counter(
            "logscrub_worker_suppressed_buckets",
            "Aggregate buckets not published as themselves: under k clients, folded into (other) or left out with "
            "their window.",
            registry=r,
        )
        self.late = Counter(
            "logscrub_worker_late_requests",
            "Requests that reached a window already emitted: left out of its numbers, counted in its rollups.",
            registry=r,
        )
        self.held_events = Gauge(
            "logscrub_worker_held_events",
            "Events this window owner holds until their time slot, or their day's own slot, is over: memory.",
            registry=r,
        )
        self.late_events = Counter(
            "logscrub_worker_late_events",
            "Events whose time slot was written already: sealed, not published (a second block of a slot would "
            "be a subset an analyst could group by).",
            registry=r,
        )
        self.key_rotations = Counter(
            "logscrub_key_rotations", "Keys this process started using, by ring.", ["ring"], registry=r
        )
        self.key_destructions = Counter(
            "logscrub_key_destructions", "Keys this process destroyed at the end of their life, by ring.", ["ring"],
            registry=r,
        )
        self.key_next_destruction = Gauge(
            "logscrub_key_next_destruction_timestamp_seconds",
            "When the oldest key this process holds is due to be destroyed (Unix time), by ring; in the past "
            "means destruction is overdue.",
            ["ring"],
            registry=r,
        )
        for role in OUTPUT_ROLES:
            self.records_out.labels(role)
        for reason in (*REJECT_REASONS, OTHER_REASON):
            self.rejected.labels(reason)
        self._lag_partitions: set[int] = set()
        self._suppressed_seen = self._late_seen = self._late_events_seen = self._refused_seen = 0
        self._keys = {
            ring: KeyWatch(ring, self.key_rotations, self.key_destructions, self.key_next_destruction)
            for ring in KEY_RINGS
        }

    def batch(
        self,
        lines: int,
        events: int,
        rejected: Mapping[str, int],
        partials: int,
        seconds: float,
        restricted: int = 0,
        withheld: int = 0,
    ) -> None:
        """One scrubbed batch: each event, withheld and restricted line also sealed its raw line to the
        security topic. Its events are counted when their slot is written (``emitted``)."""
        self.lines_in.inc(lines)
        self.records_out.labels("security").inc(events + withheld + restricted)
        self.restricted.inc(restricted)
        self.withheld.inc(withheld)
        self.records_out.labels("partials").inc(partials)
        self.records_out.labels("rejected").inc(sum(rejected.values()))
        for reason, n in rejected.items():
            self.rejected.labels(reason if reason in REJECT_REASONS else OTHER_REASON).inc(n)
        self.batch_seconds.observe(seconds)

    def emitted(self, records: int, window_ends: Iterable[float], now: float, events: int = 0) -> None:
        """Windows and released event slots written by a window owner."""
        self.records_out.labels("traffic").inc(records)
        self.records_out.labels("events").inc(events)
        for end in window_ends:
            self.emission_delay.observe(max(now - end, 0.0))

    def watch_windows(
        self, suppressed: int, late: int, held_events: int = 0, late_events: int = 0, refused: int = 0
    ) -> None:
        """The window owner's running totals (it counts; the metrics follow); ``refused``: events its
        check of the join rule did not write (withheld)."""
        self.suppressed.inc(max(suppressed - self._suppressed_seen, 0))
        self.late.inc(max(late - self._late_seen, 0))
        self.late_events.inc(max(late_events - self._late_events_seen, 0))
        self.withheld.inc(max(refused - self._refused_seen, 0))
        self.held_events.set(held_events)
        self._suppressed_seen, self._late_seen, self._late_events_seen = suppressed, late, late_events
        self._refused_seen = refused

    def set_lag(self, lag: Mapping[int, int]) -> None:
        """Lag of the partitions owned now; partitions no longer owned drop out of the scrape."""
        for partition in self._lag_partitions - set(lag):
            self.lag.remove(str(partition))
        for partition, n in lag.items():
            self.lag.labels(str(partition)).set(n)
        self._lag_partitions = set(lag)

    def watch_keys(self, rings: Iterable[KeyRing]) -> None:
        for ring in rings:
            self._keys[ring.name].update(ring)


class KeyWatch:
    """Counts a ring's new and destroyed keys by looking at it (keys.py keeps no creation count)."""

    def __init__(self, ring: str, rotations: Counter, destructions: Counter, next_destruction: Gauge) -> None:
        self._ring = ring
        self._rotations = rotations.labels(ring)
        self._destructions = destructions.labels(ring)
        self._next = next_destruction
        self._seen: set[str] = set()
        self._destroyed = 0
        self._shown = False  # the next-destruction series exists

    def update(self, ring: KeyRing) -> None:
        keys = ring.live()
        live = {key.kid for key in keys}
        self._rotations.inc(len(live - self._seen))
        self._seen = live
        self._destructions.inc(ring.destroyed - self._destroyed)
        self._destroyed = ring.destroyed
        if keys:
            self._next.labels(self._ring).set(min(key.expires for key in keys))
            self._shown = True
        elif self._shown:  # no key: nothing is due
            self._next.remove(self._ring)
            self._shown = False


class ShipperMetrics:
    """What ``logscrub ship`` exports; inputs are labelled by their number on the command line."""

    def __init__(self, spool_max_bytes: int = 0) -> None:
        r = self.registry = CollectorRegistry()
        _common(r, "none")
        self.lines_read = Counter("logscrub_ship_lines_read", "Lines read from the inputs.", registry=r)
        self.lines_sent = Counter(
            "logscrub_ship_lines_sent", "Lines the broker acknowledged on the raw topic.", registry=r
        )
        self.retries = Counter(
            "logscrub_ship_retries", "Lines sent again by a new producer after their delivery failed.", registry=r
        )
        self.unacked = Gauge("logscrub_ship_unacked_lines", "Lines sent and not yet acknowledged.", registry=r)
        self.position = Gauge(
            "logscrub_ship_position_bytes",
            "Bytes of an input up to its last line acknowledged or spooled, with every line before it "
            "(the position saved for a restart).",
            ["input"],
            registry=r,
        )
        self.spooled = Counter(
            "logscrub_ship_spooled_lines", "Lines written to the spool: the broker had not taken them in time.",
            registry=r,
        )
        self.spool_lines = Gauge(
            "logscrub_ship_spool_lines", "Lines in the spool not yet acknowledged by the broker.", registry=r
        )
        self.spool_bytes = Gauge("logscrub_ship_spool_bytes", "Bytes the spool takes on disk.", registry=r)
        self.spool_max_bytes = Gauge(
            "logscrub_ship_spool_max_bytes", "The spool's size limit (ship.spool_max_bytes; 0: no spool).",
            registry=r,
        )
        self.spool_max_bytes.set(spool_max_bytes)
        self.dropped = Counter(
            "logscrub_ship_dropped_lines",
            "Lines dropped, by reason: spool_full (stdin, no room in the spool), expired (older than "
            "security.window), damaged (a spool file could not be read), stopped (in memory at exit, no spool).",
            ["reason"],
            registry=r,
        )
        for reason in DROP_REASONS:
            self.dropped.labels(reason)


class MetricsServer:
    """A tiny HTTP server in a daemon thread: Prometheus exposition and health."""

    def __init__(self, registry: CollectorRegistry, health: Health, host: str, port: int) -> None:
        handler = type("Handler", (_Handler,), {"registry": registry, "health": health})
        try:
            self._server = (_HTTPServerV6 if ":" in host else ThreadingHTTPServer)((host, port), handler)
        except OSError as e:
            raise MetricsError(
                f"metrics: cannot listen on {host}:{port} ({e.strerror}); give each process on a host its own "
                "metrics.port (LOGSCRUB_METRICS__PORT), or 0 for none"
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@contextmanager
def serving(cfg: MetricsConfig, registry: CollectorRegistry, health: Health) -> Iterator[MetricsServer | None]:
    """The server ``cfg`` asks for, while the block runs; None when ``metrics.port`` is 0."""
    if cfg.port == 0:
        yield None
        return
    server = MetricsServer(registry, health, cfg.host, cfg.port)
    try:
        yield server
    finally:
        server.close()


class _HTTPServerV6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    registry: CollectorRegistry
    health: Health

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/metrics":
            encode, content_type = choose_encoder(self.headers.get("Accept", ""))  # Prometheus or OpenMetrics
            self._reply(200, encode(self.registry), content_type)
        elif path == "/health/live":
            self._reply(200, b"live\n")
        elif path in ("/health", "/health/ready"):
            ready = self.health.ready
            self._reply(200 if ready else 503, b"ready\n" if ready else b"not ready\n")
        else:
            self._reply(404, b"not found: try /metrics, /health/live or /health/ready\n")

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        """Silent: the base class would log every request with the client's address."""
