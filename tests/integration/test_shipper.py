"""``logscrub ship`` on a real broker: every line once, exact resume, nothing lost across a broker restart."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from broker import restart_broker
from logscrub.config import Config, load
from logscrub.run import ship as shipper
from logscrub.files.follow import OffsetFileError
from logscrub.kafka.scan import read_topic
from logscrub.run.ship import ShipError, ShipStats, ship

N = 10_000
DEADLINE_S = 120.0


def lines(start: int, stop: int) -> list[bytes]:
    """Distinct access-log lines, so duplicates and gaps on the topic can be told apart."""
    return [
        b'203.0.113.%d - - [10/Oct/2025:13:55:36 +0000] "GET /item/%d HTTP/1.1" 200 %d "-" "curl/8.5"'
        % (i % 256, i, i)
        for i in range(start, stop)
    ]


def append(path: Path, content: list[bytes], tail: bytes = b"") -> None:
    with path.open("ab") as fh:
        fh.write(b"".join(line + b"\n" for line in content) + tail)


def config(bootstrap: str, topic: str, state: Path) -> Config:
    env = {"LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS": bootstrap, "LOGSCRUB_TOPICS__RAW__NAME": topic,
           "LOGSCRUB_METRICS__PORT": "0",  # tests run side by side with other processes serving metrics
           "LOGSCRUB_SHIP__SPOOL_DIR": str(state / "spool")}
    return load(None, env=env)


def create_topic(bootstrap: str, topic: str, partitions: int = 3) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="logscrub-tests")
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def saved_offset(offsets: Path, log: Path) -> int:
    if not offsets.exists():
        return -1
    return int(json.loads(offsets.read_text())["files"].get(str(log), {"offset": -1})["offset"])


def spooled_files(state: Path) -> list[str]:
    """The spool's segment files: lines not yet acknowledged (an acknowledged segment is deleted)."""
    spool = state / "spool"
    return sorted(p.name for p in spool.iterdir() if p.name != "lock") if spool.exists() else []


def wait_until(what: str, condition: Callable[[], bool], running: Future[ShipStats]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if running.done():
            running.result()  # raises what the shipper raised
            pytest.fail(f"the shipper returned before {what}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def background() -> Iterator[Callable[..., Future[ShipStats]]]:
    """Runs ship() in a thread; the test sets its stop event, and a failing test still stops it."""
    pool = ThreadPoolExecutor(max_workers=2)
    stops: list[threading.Event] = []

    def start(*args: object, stop: threading.Event, **kwargs: object) -> Future[ShipStats]:
        stops.append(stop)
        return pool.submit(ship, *args, stop=stop, **kwargs)  # type: ignore[arg-type]

    yield start
    for stop in stops:
        stop.set()
    pool.shutdown(wait=True)


def test_a_10000_line_file_arrives_exactly_once(
    kafka_bootstrap: str, topic_name: str, tmp_path: Path
) -> None:
    create_topic(kafka_bootstrap, topic_name)
    log, offsets = tmp_path / "access.log", tmp_path / "offsets.json"
    sent = lines(0, N)
    append(log, sent)

    stats = ship(config(kafka_bootstrap, topic_name, tmp_path), [str(log)], follow=False, offsets_path=str(offsets))

    assert stats == ShipStats(lines_read=N, lines_sent=N, retries=0)
    assert Counter(read_topic(kafka_bootstrap, topic_name)) == Counter(sent)
    assert saved_offset(offsets, log) == log.stat().st_size


def test_no_line_reaches_the_logs_even_at_debug(
    kafka_bootstrap: str, topic_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    create_topic(kafka_bootstrap, topic_name)
    log = tmp_path / "access.log"
    sent = lines(0, 100)
    append(log, sent)
    caplog.set_level(logging.DEBUG)
    assert ship(config(kafka_bootstrap, topic_name, tmp_path), [str(log)], follow=False).lines_sent == 100
    assert "kafka" in caplog.text  # the client's debug logging was captured
    assert "/item/" not in caplog.text and "203.0.113." not in caplog.text


def test_resume_after_stop_sends_each_line_once(
    kafka_bootstrap: str, topic_name: str, tmp_path: Path, background: Callable[..., Future[ShipStats]]
) -> None:
    create_topic(kafka_bootstrap, topic_name)
    cfg = config(kafka_bootstrap, topic_name, tmp_path)
    log, offsets = tmp_path / "access.log", tmp_path / "offsets.json"
    everything = lines(0, N)
    append(log, everything[:4000], tail=everything[4000][:30])  # the writer is half way through a line

    stop = threading.Event()
    first = background(cfg, [str(log)], follow=True, offsets_path=str(offsets), stop=stop)
    complete_lines_end = log.stat().st_size - 30
    wait_until("4000 lines acknowledged", lambda: saved_offset(offsets, log) == complete_lines_end, first)
    stop.set()
    assert first.result(timeout=DEADLINE_S) == ShipStats(lines_read=4000, lines_sent=4000, retries=0)
    assert saved_offset(offsets, log) == complete_lines_end  # the half line was not sent, nor saved

    with log.open("ab") as fh:
        fh.write(everything[4000][30:] + b"\n")
    append(log, everything[4001:])
    second = ship(cfg, [str(log)], follow=False, offsets_path=str(offsets))

    assert second == ShipStats(lines_read=N - 4000, lines_sent=N - 4000, retries=0)
    assert Counter(read_topic(kafka_bootstrap, topic_name)) == Counter(everything)


def test_an_unwritable_offset_file_fails_before_any_line_is_sent(
    kafka_bootstrap: str, topic_name: str, tmp_path: Path
) -> None:
    create_topic(kafka_bootstrap, topic_name)
    log = tmp_path / "access.log"
    append(log, lines(0, 10))
    (tmp_path / "offsets").mkdir()  # a directory where the offset file should go
    with pytest.raises(OffsetFileError, match=f"offset file {tmp_path / 'offsets'}"):
        ship(config(kafka_bootstrap, topic_name, tmp_path), [str(log)], False, offsets_path=str(tmp_path / "offsets"))
    assert read_topic(kafka_bootstrap, topic_name) == []


def test_a_missing_topic_is_a_clear_error(
    kafka_bootstrap: str, topic_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shipper, "MAX_BLOCK_MS", 2000)
    log = tmp_path / "access.log"
    append(log, lines(0, 10))
    with pytest.raises(ShipError, match=f"topic {topic_name} was not found .*logscrub topics apply"):
        ship(config(kafka_bootstrap, topic_name, tmp_path), [str(log)], follow=False)


def test_no_broker_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shipper, "BOOTSTRAP_TIMEOUT_MS", 1000)
    log = tmp_path / "access.log"
    append(log, lines(0, 10))
    with pytest.raises(ShipError, match="no Kafka broker answered at 127.0.0.1:1"):
        ship(config("127.0.0.1:1", "logs.raw", tmp_path), [str(log)], follow=False)


@pytest.mark.parametrize("outlasts_delivery_timeout", [False, True], ids=["producer-retries", "ship-resends"])
def test_no_line_is_lost_when_the_broker_restarts_mid_stream(
    own_broker: tuple[str, Path],
    tmp_path: Path,
    background: Callable[..., Future[ShipStats]],
    monkeypatch: pytest.MonkeyPatch,
    topic_name: str,
    outlasts_delivery_timeout: bool,
) -> None:
    bootstrap, state_dir = own_broker
    topic = topic_name
    create_topic(bootstrap, topic)
    if outlasts_delivery_timeout:  # lines sent while the broker is down fail for good: ship() sends them again
        monkeypatch.setattr(shipper, "REQUEST_TIMEOUT_MS", 1000)
        monkeypatch.setattr(shipper, "DELIVERY_TIMEOUT_MS", 1500)
    log, offsets = tmp_path / "access.log", tmp_path / "offsets.json"
    log.write_bytes(b"")
    written: list[bytes] = []
    stop, writing = threading.Event(), threading.Event()
    cfg = config(bootstrap, topic, tmp_path)
    running = background(cfg, [str(log)], follow=True, offsets_path=str(offsets), stop=stop)

    def writer() -> None:  # a web server logging 50 requests every 20 ms
        while not writing.is_set():
            batch = lines(len(written), len(written) + 50)
            append(log, batch)
            written.extend(batch)
            writing.wait(0.02)

    append(log, lines(0, 2000))
    written.extend(lines(0, 2000))
    wait_until("the first lines acknowledged", lambda: saved_offset(offsets, log) > 0, running)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        restart_broker(state_dir)
    finally:
        writing.set()
        thread.join()
    size = log.stat().st_size
    # Positions pass spooled lines too: every line is acknowledged once the spool is empty as well.
    wait_until("every line acknowledged",
               lambda: saved_offset(offsets, log) == size and spooled_files(tmp_path) == [], running)
    stop.set()
    stats = running.result(timeout=DEADLINE_S)

    on_topic = read_topic(bootstrap, topic)
    assert stats.lines_read == stats.lines_sent == len(written)
    assert set(on_topic) == set(written)  # every line arrived, and nothing else did
    assert len(on_topic) <= len(written) + stats.retries  # duplicates only from re-sends
    assert (stats.retries > 0) == outlasts_delivery_timeout  # which of the two recoveries ran
