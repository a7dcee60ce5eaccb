"""``logscrub ship`` while its broker is away, on a real broker that the tests stop and start.

The shipper runs as the real command in a process of its own. A writer thread plays the web
server: it writes a batch of lines into the shipper's stdin every few milliseconds and times each
write, as Apache's piped log would block on a full pipe.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from prometheus_client.parser import text_string_to_metric_families

from broker import start_broker, stop_broker
from logscrub.kafka.scan import read_topic

DEADLINE_S = 180.0
PIPE_BYTES = 64 * 1024  # Linux's default pipe: what a writer has before it blocks
BLOCK_LIMIT_S = 1.0
Metrics = dict[str, float]


def lines(tag: str, start: int, stop: int) -> list[bytes]:
    """Distinct access-log lines, ``tag`` telling which writer wrote them."""
    return [
        b'203.0.113.%d - - [10/Oct/2025:13:55:36 +0000] "GET /%s/%d HTTP/1.1" 200 %d "-" "curl/8.5"'
        % (i % 256, tag.encode(), i, i)
        for i in range(start, stop)
    ]


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="logscrub-tests")
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Writer(threading.Thread):
    """``batch`` lines every ``period`` seconds into ``fd``; the longest time one write took."""

    def __init__(self, fd: int, tag: str, batch: int = 20, period: float = 0.01) -> None:
        super().__init__(name=f"writer-{tag}", daemon=True)
        self.fd, self.tag, self.batch, self.period = fd, tag, batch, period
        self.written: list[bytes] = []
        self.longest = 0.0
        self.writes = 0
        self._halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                batch = lines(self.tag, len(self.written), len(self.written) + self.batch)
                data = memoryview(b"".join(line + b"\n" for line in batch))
                started = time.perf_counter()
                while data:
                    data = data[os.write(self.fd, data) :]
                self.longest = max(self.longest, time.perf_counter() - started)
                self.writes += 1
                self.written.extend(batch)
                self._halt.wait(self.period)
        except BaseException as e:  # noqa: BLE001 (reported by stop())
            self.error = e

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=DEADLINE_S)
        assert not self.is_alive(), "the writer is still blocked in a write"
        if self.error is not None:
            raise self.error


class Shipper:
    """``logscrub ship ARGS`` in a process of its own, with its metrics on a port of its own."""

    def __init__(self, env: dict[str, str], args: list[str], log: Path, port: int | None = None,
                 wait: bool = True) -> None:
        self.port = port or free_port()
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "logscrub", "ship", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            env={**env, "LOGSCRUB_METRICS__PORT": str(self.port)},
        )
        assert self.process.stdin is not None
        self.stdin = self.process.stdin.fileno()
        if wait:
            self.wait_for("the shipper's metrics", lambda m: "logscrub_ship_lines_read_total" in m)

    def metrics(self) -> Metrics | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return None
        out: Metrics = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out[sample.name] = out.get(sample.name, 0.0) + sample.value
        return out

    def wait_for(self, what: str, condition: Callable[[Metrics], bool]) -> Metrics:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"the shipper exited ({self.process.returncode}) before {what}:\n{self.log.read_text()}")
            m = self.metrics()
            if m is not None and condition(m):
                return m
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {m}\n{self.log.read_text()}"
            time.sleep(0.1)

    def finish(self, sig: int | None = None) -> tuple[int, dict[str, int]]:
        """Close stdin (or send ``sig``) and wait for the exit; (status, the summary's figures)."""
        if sig is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
        else:
            self.process.send_signal(sig)
        status = self.process.wait(timeout=DEADLINE_S)
        if sig is not None and self.process.stdin is not None:
            self.process.stdin.close()
        text = self.log.read_text()
        summary = [line for line in text.splitlines() if line.startswith("lines read:")]
        assert summary, f"no summary from the shipper:\n{text}"
        figures = {k.strip().replace(" ", "_"): int(v) for k, v in re.findall(r"([a-zA-Z' ]+): (\d+)", summary[-1])}
        return status, figures

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def shippers() -> Callable[..., Shipper]:
    started: list[Shipper] = []

    def start(env: dict[str, str], args: list[str], log: Path, **kwargs: object) -> Shipper:
        started.append(Shipper(env, args, log, **kwargs))  # type: ignore[arg-type]
        return started[-1]

    yield start  # type: ignore[misc]
    for shipper in started:
        shipper.kill()


def environment(bootstrap: str, topic: str, state: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGSCRUB_")}
    env.update({
        "LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "LOGSCRUB_TOPICS__RAW__NAME": topic,
        "LOGSCRUB_SHIP__SPOOL_DIR": str(state / "spool"),
        "LOGSCRUB_LOGGING__LEVEL": "WARNING",
    })
    env.update({f"LOGSCRUB_{k.upper()}": v for k, v in settings.items()})
    return env


def default_pipe(shipper: Shipper) -> None:
    """ship asks for a 1 MiB pipe; measure with the 64 KiB a kernel may leave it."""
    deadline = time.monotonic() + DEADLINE_S
    while fcntl.fcntl(shipper.stdin, fcntl.F_GETPIPE_SZ) < 1 << 20:
        assert shipper.process.poll() is None and time.monotonic() < deadline, "ship did not enlarge its pipe"
        time.sleep(0.05)
    fcntl.fcntl(shipper.stdin, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def figures(**values: object) -> None:
    print("\n  " + "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()))


def test_the_writer_never_waits_while_the_broker_is_down_and_every_line_arrives(
    own_broker: tuple[str, Path], topic_name: str, tmp_path: Path, shippers: Callable[..., Shipper]
) -> None:
    bootstrap, broker_dir = own_broker
    create_topic(bootstrap, topic_name, 3)
    ship = shippers(environment(bootstrap, topic_name, tmp_path), ["-"], tmp_path / "ship.err")
    default_pipe(ship)
    writer = Writer(ship.stdin, "a")
    writer.start()
    try:
        ship.wait_for("lines acknowledged", lambda m: m["logscrub_ship_lines_sent_total"] >= 1000)
        down = time.monotonic()
        stop_broker(broker_dir)
        ship.wait_for("20,000 lines spooled", lambda m: m["logscrub_ship_spooled_lines_total"] >= 20_000)
        start_broker(broker_dir)
        outage = time.monotonic() - down
        ship.wait_for(
            "the spool sent",
            lambda m: m["logscrub_ship_spool_lines"] == 0 and m["logscrub_ship_unacked_lines"] < 1000,
        )
    finally:
        writer.stop()
    status, stats = ship.finish()  # end of input: ship sends the rest and exits
    on_topic = read_topic(bootstrap, topic_name)

    figures(outage_s=outage, longest_write_s=writer.longest, writes=writer.writes, lines=len(writer.written),
            spooled=stats["spooled"], duplicates=len(on_topic) - len(set(on_topic)))
    assert writer.longest < BLOCK_LIMIT_S
    assert status == 0
    assert stats["lines_read"] == stats["sent"] == len(writer.written)
    assert stats["spooled"] >= 20_000 and "DROPPED" not in ship.log.read_text()
    assert set(on_topic) == set(writer.written)  # every line arrived, and nothing else did
    assert len(on_topic) - len(writer.written) <= stats["retries"]


def test_a_full_spool_drops_exactly_what_it_counts_and_a_restart_sends_it_first(
    own_broker: tuple[str, Path], topic_name: str, tmp_path: Path, shippers: Callable[..., Shipper]
) -> None:
    bootstrap, broker_dir = own_broker
    create_topic(bootstrap, topic_name, 1)  # one partition: the topic's order is the order sent
    env = environment(bootstrap, topic_name, tmp_path, ship__spool_max_bytes=str(1 << 20))
    first = shippers(env, ["-"], tmp_path / "first.err")
    default_pipe(first)
    writer = Writer(first.stdin, "a")
    writer.start()
    try:
        first.wait_for("lines acknowledged", lambda m: m["logscrub_ship_lines_sent_total"] >= 500)
        stop_broker(broker_dir)
        first.wait_for("lines dropped", lambda m: m['logscrub_ship_dropped_lines_total'] >= 3000)
    finally:
        writer.stop()
    first.wait_for("every line read", lambda m: m["logscrub_ship_lines_read_total"] == len(writer.written))
    status_a, a = first.finish(signal.SIGTERM)  # as Apache stops its piped loggers
    assert status_a == 1 and a["DROPPED"] >= 3000 and a["left_in_the_spool_for_the_next_run"] > 0
    assert a["lines_read"] == len(writer.written) == a["sent"] + a["DROPPED"] + a["left_in_the_spool_for_the_next_run"]

    second = shippers(env, ["-"], tmp_path / "second.err")  # the broker is still down; the spool is full
    default_pipe(second)
    writer_b = Writer(second.stdin, "b")
    writer_b.start()
    try:
        second.wait_for("lines dropped", lambda m: m['logscrub_ship_dropped_lines_total'] >= 100)
        start_broker(broker_dir)
        second.wait_for("the spool sent", lambda m: m["logscrub_ship_spool_lines"] == 0)
    finally:
        writer_b.stop()
    status_b, b = second.finish()
    on_topic = read_topic(bootstrap, topic_name)

    figures(longest_write_a_s=writer.longest, longest_write_b_s=writer_b.longest, dropped_a=a["DROPPED"],
            dropped_b=b["DROPPED"], left_by_a=a["left_in_the_spool_for_the_next_run"], lines=len(writer.written) +
            len(writer_b.written), duplicates=len(on_topic) - len(set(on_topic)))
    assert max(writer.longest, writer_b.longest) < BLOCK_LIMIT_S
    assert status_b == 1 and b["from_an_earlier_run's_spool"] == a["left_in_the_spool_for_the_next_run"]
    written = writer.written + writer_b.written
    assert set(on_topic) <= set(written)
    assert len(set(written) - set(on_topic)) == a["DROPPED"] + b["DROPPED"]  # exactly the counted ones are missing
    first_b = min(i for i, line in enumerate(on_topic) if b" /b/" in line)
    before = set(on_topic[:first_b])
    assert all(b" /a/" in line for line in before)  # the spool went out before anything new
    assert all(b" /a/" not in line or line in before for line in on_topic[first_b:])  # (re-sends aside)


def test_a_crash_while_spooling_a_followed_file_skips_no_line(
    own_broker: tuple[str, Path], topic_name: str, tmp_path: Path, shippers: Callable[..., Shipper]
) -> None:
    bootstrap, broker_dir = own_broker
    create_topic(bootstrap, topic_name, 3)
    env = environment(bootstrap, topic_name, tmp_path)
    log, offsets = tmp_path / "access.log", tmp_path / "ship.offsets"
    written = lines("f", 0, 3000)
    log.write_bytes(b"".join(line + b"\n" for line in written))
    args = ["--follow", "--offsets", str(offsets), str(log)]
    first = shippers(env, args, tmp_path / "first.err")
    first.wait_for("the file acknowledged", lambda m: m["logscrub_ship_lines_sent_total"] == 3000)
    stop_broker(broker_dir)
    more = lines("f", 3000, 40_000)
    with log.open("ab") as f:
        f.write(b"".join(line + b"\n" for line in more))
    written += more
    size = log.stat().st_size
    first.wait_for(
        "the position saved past spooled lines",
        lambda m: m.get("logscrub_ship_position_bytes") == size and m["logscrub_ship_spool_lines"] == 37_000,
    )
    first.kill()  # SIGKILL: no goodbye, the spool and the offsets as they are on disk
    start_broker(broker_dir)
    second = shippers(env, args, tmp_path / "second.err")
    second.wait_for("the spool sent", lambda m: m["logscrub_ship_spool_lines"] == 0 and
                    m["logscrub_ship_lines_sent_total"] >= 37_000)
    status, stats = second.finish(signal.SIGTERM)
    on_topic = read_topic(bootstrap, topic_name)

    figures(spooled_before_crash=37_000, resent_after_crash=stats["sent"], duplicates=len(on_topic) - len(set(on_topic)))
    assert status == 0 and stats["lines_read"] == 0  # the position had passed every line: all came from the spool
    assert set(on_topic) == set(written)
    assert max(Counter(on_topic).values()) <= 2


def test_stdin_without_any_broker_keeps_its_lines_in_the_spool_and_says_so(tmp_path: Path) -> None:
    """A mistyped address: ship reads on, and once its input ends with no broker ever answering, one line."""
    env = environment("127.0.0.1:1", "logs.raw", tmp_path, metrics__port="0")
    sent = lines("n", 0, 5)
    done = subprocess.run(
        [sys.executable, "-m", "logscrub", "ship", "-"],
        input=b"".join(line + b"\n" for line in sent), capture_output=True, env=env, timeout=DEADLINE_S, check=False,
    )
    last = done.stderr.decode().strip().splitlines()[-1]
    assert done.returncode == 2
    assert last == "logscrub: no Kafka broker answered at 127.0.0.1:1; 5 lines wait in the spool for the next run"
    from logscrub.files.spool import Spool

    spool = Spool(tmp_path / "spool", 1 << 20, 86400)
    assert spool.open() == 5 and [data for _, data in spool.take(10)] == sent
    spool.close()


def test_a_restarted_piped_logger_takes_over_the_port_and_the_spool_of_the_one_stopping(
    own_broker: tuple[str, Path], topic_name: str, tmp_path: Path, shippers: Callable[..., Shipper]
) -> None:
    """Apache starts the new piped logger, then sends SIGTERM to the old one: for a while both run."""
    bootstrap, _ = own_broker
    create_topic(bootstrap, topic_name, 3)
    env = environment(bootstrap, topic_name, tmp_path)
    old = shippers(env, ["-"], tmp_path / "old.err")
    old_writer = Writer(old.stdin, "o")
    old_writer.start()
    new = shippers(env, ["-"], tmp_path / "new.err", port=old.port, wait=False)  # port and spool taken
    default_pipe(new)
    new_writer = Writer(new.stdin, "n")
    try:
        old.wait_for("lines acknowledged", lambda m: m["logscrub_ship_lines_sent_total"] >= 1000)
        new_writer.start()
        deadline = time.monotonic() + DEADLINE_S
        while new_writer.writes < 100:  # the new one takes lines beside the old one, as under Apache
            assert new_writer.is_alive() and time.monotonic() < deadline, "the new shipper's writer stalled"
            time.sleep(0.05)
    finally:
        old_writer.stop()
    try:
        status_old, _ = old.finish(signal.SIGTERM)
        new.wait_for("the new shipper on the port", lambda m: m["logscrub_ship_lines_sent_total"] >= 1000)
        lock = tmp_path / "spool" / "lock"
        new.wait_for("the new shipper holding the spool", lambda _: lock.read_text().strip() == str(new.process.pid))
    finally:
        new_writer.stop()
    status_new, _ = new.finish()
    on_topic = read_topic(bootstrap, topic_name)

    assert status_old == status_new == 0
    assert new_writer.longest < BLOCK_LIMIT_S
    assert set(on_topic) == set(old_writer.written + new_writer.written)
    assert "serving metrics as soon as the port is free" in new.log.read_text()
