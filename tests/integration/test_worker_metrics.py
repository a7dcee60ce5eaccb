"""Metrics and health of a running worker and shipper, scraped over HTTP, on the real broker."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import canaries
from logscrub.config import load
from logscrub.kafka.scan import read_topic
from logscrub.run.ship import ship
from logscrub.kafka.topics import admin_client, apply_topics
from bench.sample import generate
from pipeline_env import Pipeline, request_totals, scrubbed_traffic

DEADLINE_S = 120.0
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str) -> tuple[int, str]:
    """(status, body); status 0 while nothing listens yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except urllib.error.URLError:
        return 0, ""


def scrape(port: int) -> tuple[str, Samples]:
    status, text = get(port, "/metrics")
    assert status == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def poll(what: str, condition: Callable[[], bool], check: Callable[[], None] = lambda: None) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        check()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def pipeline(kafka_bootstrap, topic_name, tmp_path):
    p = Pipeline(kafka_bootstrap, topic_name, tmp_path, raw_partitions=2,
                 env={"LOGSCRUB_METRICS__PORT": str(free_port())})
    yield p
    p.stop_all()


def test_a_running_worker_reports_health_and_every_metric_moves(pipeline):
    port = int(pipeline.env["LOGSCRUB_METRICS__PORT"])
    worker = pipeline.start_worker()

    def alive() -> None:
        assert worker.poll() is None, f"the worker exited; see {pipeline.tmp}/worker-0.log"

    poll("/health/live", lambda: get(port, "/health/live")[0] == 200, alive)
    assert get(port, "/health/ready")[0] == 503  # the server is up before the worker joins its group
    assert get(port, "/health")[0] == 503
    poll("/health/ready", lambda: get(port, "/health/ready")[0] == 200, alive)
    pipeline.wait_for_group(1)  # ready means joined, with the raw partitions assigned
    assert get(port, "/health")[0] == 200

    malformed = [b"this is not an access log line", b"", b"x" * (pipeline.cfg.input.max_line_bytes + 10)]
    lines = [line.encode() for line in generate(300, seed=3, clients=60, user_agents=20)]
    lines += [line.encode() for line in canaries.combined_lines()] + malformed
    sent = pipeline.produce(lines)

    def accounted() -> bool:
        return len(pipeline.read("security")) + len(pipeline.read("rejected")) >= sent

    pipeline.wait_for("every line to be accounted for", accounted)
    security, rejected = pipeline.read("security"), pipeline.read("rejected")

    def every_event() -> bool:  # each held until its slot is over; a withheld line gives none
        withheld = value(scrape(port)[1], "logscrub_worker_withheld_events_total") or 0
        return len(pipeline.read("events")) + withheld >= len(security)

    poll("every event, written once its slot is over", every_event, alive)
    events = pipeline.read("events")
    reasons = Counter(r["reason"] for r in rejected)
    assert reasons["no_match"] >= 1 and reasons["empty"] == 1 and reasons["too_long"] == 1
    expected = request_totals(scrubbed_traffic(pipeline.env, lines, pipeline.tmp / "scrub"))
    pipeline.wait_for("every window's aggregates", lambda: request_totals(pipeline.read("traffic")) >= expected > 0)
    traffic = pipeline.read("traffic")

    def settled() -> bool:
        _, s = scrape(port)
        return (
            value(s, "logscrub_worker_records_total", topic="traffic") == len(traffic)
            and value(s, "logscrub_worker_consumer_lag", partition="0") == 0
            and value(s, "logscrub_worker_consumer_lag", partition="1") == 0
            and (value(s, "logscrub_key_rotations_total", ring="visitor") or 0) >= 1
        )

    poll("lag, key and window metrics to catch up", settled, alive)
    text, s = scrape(port)
    assert value(s, "logscrub_worker_lines_total") == sent
    assert value(s, "logscrub_worker_records_total", topic="events") == len(events)
    assert value(s, "logscrub_worker_records_total", topic="security") == len(security)
    assert len(events) + value(s, "logscrub_worker_withheld_events_total") == len(security)
    assert value(s, "logscrub_worker_records_total", topic="rejected") == len(rejected)
    assert (value(s, "logscrub_worker_records_total", topic="partials") or 0) >= 1
    for reason in ("no_match", "empty", "too_long"):
        assert value(s, "logscrub_worker_rejected_lines_total", reason=reason) == reasons[reason]
    assert (value(s, "logscrub_worker_batch_seconds_count") or 0) >= 1
    assert (value(s, "logscrub_worker_window_emission_delay_seconds_count") or 0) >= 1
    assert (value(s, "logscrub_key_rotations_total", ring="data") or 0) >= 1
    assert value(s, "logscrub_key_destructions_total", ring="data") == 0  # nothing has outlived the window yet

    scraped = text.lower()
    for canary in canaries.FORBIDDEN:
        assert canary.lower() not in scraped, canary


def test_a_running_shipper_reports_lines_positions_and_health(kafka_bootstrap, topic_name, tmp_path: Path):
    port = free_port()
    env = {"LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap, "LOGSCRUB_TOPICS__RAW__NAME": f"{topic_name}.raw",
           "LOGSCRUB_METRICS__PORT": str(port)}
    cfg = load(None, env=env)
    with admin_client(cfg.kafka) as admin:
        apply_topics(cfg, admin)
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(line.encode() + b"\n" for line in canaries.combined_lines()))
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(ship, cfg, [str(tmp_path / "missing.log"), str(log)], True, str(tmp_path / "o"), stop)
        try:
            def alive() -> None:
                if running.done():
                    running.result()
                    pytest.fail("the shipper returned early")

            def shipped() -> bool:
                if get(port, "/health/ready")[0] != 200:
                    return False
                _, s = scrape(port)
                return value(s, "logscrub_ship_position_bytes", input="1") == log.stat().st_size

            poll("the file to be acknowledged", shipped, alive)
            text, s = scrape(port)
            n = len(canaries.combined_lines())
            assert value(s, "logscrub_ship_lines_read_total") == value(s, "logscrub_ship_lines_sent_total") == n
            assert value(s, "logscrub_ship_unacked_lines") == 0
            assert value(s, "logscrub_ship_retries_total") == 0
            assert value(s, "logscrub_ship_position_bytes", input="0") is None  # no such file yet
            assert get(port, "/health/live")[0] == 200
            for canary in canaries.FORBIDDEN:
                assert canary.lower() not in text.lower(), canary
        finally:
            stop.set()
        assert running.result(timeout=DEADLINE_S).lines_sent == n
    assert len(read_topic(kafka_bootstrap, cfg.topics.raw.name)) == n
    assert get(port, "/health/live")[0] == 0  # the server went away with the shipper
