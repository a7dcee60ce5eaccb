"""Metrics server, metric updates, log redaction and format: no broker, no sleeps."""

from __future__ import annotations

import io
import json
import logging
import platform
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

import canaries
from logscrub.ops import logsetup as logs
from logscrub.config import ConfigError, MetricsConfig, load
from logscrub.crypto.keyring import KeyRing
from logscrub.ops.metrics import Health, MetricsError, MetricsServer, ShipperMetrics, WorkerMetrics, serving


def get(port: int, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def worker_server() -> Iterator[tuple[WorkerMetrics, Health, MetricsServer]]:
    metrics, health = WorkerMetrics(), Health()
    server = MetricsServer(metrics.registry, health, "127.0.0.1", 0)
    try:
        yield metrics, health, server
    finally:
        server.close()


def test_health_is_live_at_once_and_ready_only_when_the_component_says_so(worker_server):
    _, health, server = worker_server
    assert get(server.port, "/health/live")[0] == 200
    assert get(server.port, "/health/ready")[0] == 503
    assert get(server.port, "/health")[0] == 503
    health.set_ready(True)
    assert get(server.port, "/health/ready")[0] == 200
    assert get(server.port, "/health/")[0] == 200
    health.set_ready(False)  # a rebalance began
    assert get(server.port, "/health")[0] == 503
    assert get(server.port, "/health/live")[0] == 200
    assert get(server.port, "/nope")[0] == 404


def test_metrics_endpoint_serves_the_components_registry_in_exposition_format(worker_server):
    metrics, _, server = worker_server
    metrics.batch(lines=10, events=7, rejected={"no_match": 2, "too_long": 1}, partials=3, seconds=0.02)
    metrics.emitted(records=12, window_ends=[1000.0, 1060.0], now=1090.0, events=5)  # a slot's events, released
    status, content_type, text = get(server.port, "/metrics?name[]=ignored")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    s = samples(text)
    assert s[("logscrub_worker_lines_total", ())] == 10
    assert s[("logscrub_worker_records_total", (("topic", "events"),))] == 5  # when written, not when made
    assert s[("logscrub_worker_records_total", (("topic", "security"),))] == 7
    assert s[("logscrub_worker_records_total", (("topic", "rejected"),))] == 3
    assert s[("logscrub_worker_records_total", (("topic", "partials"),))] == 3
    assert s[("logscrub_worker_records_total", (("topic", "traffic"),))] == 12
    assert s[("logscrub_worker_rejected_lines_total", (("reason", "no_match"),))] == 2
    assert s[("logscrub_worker_rejected_lines_total", (("reason", "too_long"),))] == 1
    assert s[("logscrub_worker_rejected_lines_total", (("reason", "bad_time"),))] == 0  # every reason, from the start
    assert s[("logscrub_worker_batch_seconds_count", ())] == 1
    assert s[("logscrub_worker_window_emission_delay_seconds_count", ())] == 2
    assert s[("logscrub_worker_window_emission_delay_seconds_sum", ())] == 90 + 30


def test_a_reason_outside_the_known_set_is_counted_as_other_and_never_becomes_a_label(worker_server):
    metrics, _, server = worker_server
    metrics.batch(lines=1, events=0, rejected={f"bad {canaries.IPV4} {canaries.EMAIL}": 1}, partials=0, seconds=0.0)
    text = get(server.port, "/metrics")[2]
    assert samples(text)[("logscrub_worker_rejected_lines_total", (("reason", "other"),))] == 1
    assert canaries.IPV4 not in text and canaries.EMAIL not in text


def test_lag_keeps_only_the_partitions_owned_now():
    metrics = WorkerMetrics()
    metrics.set_lag({0: 5, 1: 7})
    metrics.set_lag({1: 2, 3: 0})
    assert metrics.registry.get_sample_value("logscrub_worker_consumer_lag", {"partition": "0"}) is None
    assert metrics.registry.get_sample_value("logscrub_worker_consumer_lag", {"partition": "1"}) == 2
    assert metrics.registry.get_sample_value("logscrub_worker_consumer_lag", {"partition": "3"}) == 0


def test_key_rotations_and_destructions_follow_the_ring():
    now = [1_000_000.0]
    ring = KeyRing("data", rotation=60, lifetime=120, clock=lambda: now[0])
    metrics = WorkerMetrics()

    def value(name: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"ring": "data"})

    metrics.watch_keys([ring])
    assert value("logscrub_key_rotations_total") == 0
    ring.current(now[0])
    metrics.watch_keys([ring])
    metrics.watch_keys([ring])  # looking again counts nothing new
    assert value("logscrub_key_rotations_total") == 1
    now[0] += 60
    ring.current(now[0])
    metrics.watch_keys([ring])
    assert (value("logscrub_key_rotations_total"), value("logscrub_key_destructions_total")) == (2, 0)
    now[0] += 120  # both keys' lives are over
    metrics.watch_keys([ring])
    assert (value("logscrub_key_rotations_total"), value("logscrub_key_destructions_total")) == (2, 2)


def test_every_registry_has_the_process_collector_and_build_info_and_no_created_series(worker_server):
    from logscrub import __version__

    metrics, _, server = worker_server
    metrics.batch(lines=1, events=1, rejected={}, partials=0, seconds=0.01)
    for text in (get(server.port, "/metrics")[2], get(server.port, "/metrics")[2]):
        names = {name for name, _ in samples(text)}
        assert {"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"} <= names
        assert not any(name.endswith("_created") for name in names)
        assert "_created" not in text
    for m, core in ((WorkerMetrics(), "python"), (ShipperMetrics(), "none")):
        assert m.registry.get_sample_value(
            "logscrub_build_info", {"version": __version__, "python": platform.python_version(), "core": core}
        ) == 1


def test_the_next_key_destruction_is_exported_and_goes_when_no_key_is_left():
    now = [1_000_000.0]
    ring = KeyRing("data", rotation=60, lifetime=120, clock=lambda: now[0])
    metrics = WorkerMetrics()

    def due() -> float | None:
        return metrics.registry.get_sample_value("logscrub_key_next_destruction_timestamp_seconds", {"ring": "data"})

    metrics.watch_keys([ring])
    assert due() is None
    key = ring.current(now[0])
    metrics.watch_keys([ring])
    assert due() == key.expires
    now[0] = key.expires
    metrics.watch_keys([ring])
    assert due() is None


def test_shipper_spool_metrics_and_drop_reasons_from_the_start():
    ship = ShipperMetrics(spool_max_bytes=1 << 30)
    value = ship.registry.get_sample_value
    assert value("logscrub_ship_spool_max_bytes") == 1 << 30
    for reason in ("spool_full", "expired", "damaged", "stopped"):
        assert value("logscrub_ship_dropped_lines_total", {"reason": reason}) == 0


def test_shipper_metrics_live_on_their_own_registry():
    ship, worker = ShipperMetrics(), WorkerMetrics()
    ship.lines_read.inc(3)
    ship.position.labels("0").set(120)
    assert ship.registry.get_sample_value("logscrub_ship_lines_read_total") == 3
    assert ship.registry.get_sample_value("logscrub_ship_position_bytes", {"input": "0"}) == 120
    assert worker.registry.get_sample_value("logscrub_ship_lines_read_total") is None


def test_serving_nothing_on_port_0_and_a_clear_error_on_a_taken_port():
    health, registry = Health(), WorkerMetrics().registry
    with serving(MetricsConfig(port=0), registry, health) as server:
        assert server is None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsError, match=rf"127\.0\.0\.1:{port}.*LOGSCRUB_METRICS__PORT"):
            with serving(MetricsConfig(port=port), registry, health):
                pass


def test_serving_closes_the_port_when_the_block_ends():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with serving(MetricsConfig(port=port), WorkerMetrics().registry, Health()) as server:
        assert server is not None and get(port, "/health/live")[0] == 200
    with pytest.raises(urllib.error.URLError):
        get(port, "/health/live")


def test_metrics_and_logging_settings_are_validated():
    cfg = load(None, env={"LOGSCRUB_METRICS__PORT": "0", "LOGSCRUB_METRICS__HOST": "0.0.0.0",
                          "LOGSCRUB_LOGGING__LEVEL": "INFO", "LOGSCRUB_LOGGING__JSON": "true"})
    assert (cfg.metrics.host, cfg.metrics.port, cfg.logging.level, cfg.logging.json) == ("0.0.0.0", 0, "INFO", True)
    for env, key in [
        ({"LOGSCRUB_METRICS__PORT": "70000"}, "metrics.port"),
        ({"LOGSCRUB_METRICS__HOST": "a host"}, "metrics.host"),
        ({"LOGSCRUB_LOGGING__LEVEL": "LOUD"}, "logging.level"),
        ({"LOGSCRUB_LOGGING__JSON": "maybe"}, "logging.json"),
    ]:
        with pytest.raises(ConfigError) as e:
            load(None, env=env)
        assert e.value.key == key


# --- logs ---

@pytest.mark.parametrize("personal", [
    canaries.IPV4, canaries.IPV6, canaries.EMAIL, canaries.EMAIL_ENC, "::1", "fe80::1%eth0", "2001:db8::",
    f"::ffff:{canaries.IPV4}", f"[{canaries.IPV6}]:443", f"{canaries.IPV4}:8080", "00:1a:2b:3c:4d:5e",
])
def test_redact_removes_addresses_and_emails(personal):
    text = logs.redact(f"peer {personal} said no.")
    assert text.startswith("peer ") and "[redacted]" in text and text.endswith(" said no.")
    for part in ("198.51", "2001:db8", "alice", "ffff", "1a:2b"):
        assert part not in text


def test_redact_keeps_clock_times_counts_and_topic_positions():
    text = "window 10:00:00 closed: 3 records, logs.raw:0:1234 at 2026-11-28T10:00:01.5Z, version 2.3"
    assert logs.redact(text) == text


@pytest.fixture
def root_logging() -> Iterator[None]:
    """setup_logging rewires the root logger: put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS + logs.NOISY_LOGGERS}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lvl in quiet.items():
            logging.getLogger(name).setLevel(lvl)


def test_json_logs_carry_time_level_logger_message_and_redact_args_and_tracebacks(root_logging, capsys):
    logs.setup_logging("INFO", json=True)
    log = logging.getLogger("logscrub.test")
    log.info("client %s sent %d lines", canaries.IPV4, 3)
    try:
        raise ValueError(f"bad line from {canaries.IPV6} <{canaries.EMAIL}>")
    except ValueError:
        log.exception("parse failed")
    log.debug("not at INFO")
    out = capsys.readouterr().err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 2
    first, second = records
    assert set(first) == {"time", "level", "logger", "message"}
    assert (first["level"], first["logger"]) == ("INFO", "logscrub.test")
    assert first["message"] == "client [redacted] sent 3 lines"
    assert first["time"].endswith("Z") and first["time"][10] == "T"
    assert second["message"] == "parse failed" and "ValueError: bad line from [redacted] <[redacted]>" in second["exc"]
    for canary in (canaries.IPV4, canaries.IPV6, canaries.EMAIL):
        assert canary not in out


def test_plain_logs_are_redacted_too_and_kafka_clients_stay_at_info_or_above(root_logging, capsys):
    logs.setup_logging("DEBUG", json=False)
    assert logging.getLogger().level == logging.DEBUG
    for name in logs.QUIET_LOGGERS:
        assert logging.getLogger(name).level == logging.INFO
    for name in logs.NOISY_LOGGERS:
        assert logging.getLogger(name).level == logging.ERROR
    logging.getLogger("kafka.producer.kafka").debug("value %s", canaries.UA_CANARY)
    logging.getLogger("mode.worker").warning("peer %s gone", canaries.IPV4)
    out = capsys.readouterr().err
    assert "WARNING mode.worker: peer [redacted] gone" in out
    assert canaries.USER not in out and canaries.IPV4 not in out


def test_json_formatter_alone_writes_one_object_per_record():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, 'a "quoted"\nmessage', None, None)
    record.created, record.msecs = 1_800_000_000.25, 250.0
    handler.emit(record)
    assert stream.getvalue().count("\n") == 1
    assert json.loads(stream.getvalue()) == {
        "time": "2027-01-15T08:00:00.250Z", "level": "ERROR", "logger": "x", "message": 'a "quoted"\nmessage',
    }
