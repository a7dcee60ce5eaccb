"""Helpers for end-to-end tests: a private set of topics, worker processes, and output readers."""

from __future__ import annotations

import base64
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from logscrub.config import Config, load
from logscrub.kafka.scan import read_topic
from logscrub.run.rawloop import raw_group
from logscrub.kafka.topic_specs import ROLES
from logscrub.kafka.topics import admin_client, apply_topics



@dataclass
class Pipeline:
    """One test's topics, config (as environment) and worker processes."""

    bootstrap: str
    prefix: str
    tmp: Path
    raw_partitions: int = 1
    env: dict[str, str] = field(default_factory=dict)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: int = 0

    def __post_init__(self) -> None:
        self.env = {
            "LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "LOGSCRUB_KAFKA__APP_ID": f"{self.prefix}-app",
            # Workers wrap the keys they share through the keys topic with this (one per test).
            "LOGSCRUB_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "LOGSCRUB_INPUT__FORMAT": "combined",
            # How long a window waits for a raw partition behind the others; late lines count in rollups
            # only, and on this 2-core machine a produce request can take seconds under load.
            "LOGSCRUB_AGGREGATE__ALLOWED_LATENESS": "10s",
            "LOGSCRUB_SECURITY__WINDOW": "1h",
            # A line sealed late in a data period lives window - rotation at least: keep that long.
            "LOGSCRUB_KEYS__DATA_ROTATION": "5m",
            "LOGSCRUB_TOPICS__RAW__PARTITIONS": str(self.raw_partitions),
            "LOGSCRUB_TOPICS__PARTIALS__PARTITIONS": "2",
            "LOGSCRUB_METRICS__PORT": "0",  # several workers per test: a test that scrapes sets its own port
            **{f"LOGSCRUB_TOPICS__{r.upper()}__NAME": f"{self.prefix}.{r}" for r in ROLES},
            **self.env,
        }
        self.cfg: Config = load(None, env=self.env)
        with admin_client(self.cfg.kafka) as admin:
            apply_topics(self.cfg, admin)

    def topic(self, role: str) -> str:
        return getattr(self.cfg.topics, role).name

    def start_worker(self, log_level: str = "WARNING") -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"worker-{self.started}.log", "wb")  # noqa: SIM115
        self.started += 1  # a restarted worker's log goes beside, not over, the one it replaces
        proc = subprocess.Popen(
            [sys.executable, "-m", "logscrub", "worker", "--log-level", log_level],
            env={**os.environ, **self.env},
            cwd=self.tmp,  # faust makes a <app id>-data directory in its working directory
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def wait_for_group(self, members: int) -> None:
        """Until the workers' raw group is stable with ``members`` members that each own raw partitions."""

        # kafka-python warns at length when it cannot decode a member's metadata; we only read states.
        logging.getLogger("kafka.admin").setLevel(logging.ERROR)
        name = raw_group(self.cfg.kafka.app_id)

        def stable() -> bool:
            try:
                with admin_client(self.cfg.kafka) as admin:
                    group = admin.describe_groups([name])[name]
            except KafkaError:  # no group yet: the workers have not joined
                return False
            owners = [
                m for m in group["members"]
                if isinstance(m["member_assignment"], dict)  # empty while the group rebalances
                and any(a["topic"] == self.topic("raw") for a in m["member_assignment"]["assigned_partitions"])
            ]
            return group["group_state"] == "Stable" and len(group["members"]) == members == len(owners)

        self.wait_for(f"a stable group of {members} workers", stable)

    def committed_raw(self) -> dict[int, int]:
        """The raw group's committed offset by raw partition (0 where none): a worker killed now
        may have processed lines past it, and a restarted one processes them again."""
        group = raw_group(self.cfg.kafka.app_id)
        partitions = [TopicPartition(self.topic("raw"), p) for p in range(self.raw_partitions)]
        with admin_client(self.cfg.kafka) as admin:
            committed = admin.list_group_offsets({group: partitions}).get(group, {})
        return {tp.partition: committed[tp].offset if tp in committed else 0 for tp in partitions}

    def produce(self, lines: Iterable[bytes]) -> int:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        n = 0
        for line in lines:
            producer.send(self.topic("raw"), line)
            n += 1
        producer.flush()
        producer.close()
        return n

    def read(self, role: str) -> list[Any]:
        """Every record on the topic right now (from the beginning to the end offsets)."""
        return [orjson.loads(v) for v in read_topic(self.bootstrap, self.topic(role))]

    def wait_for_events(self, at_least: int, timeout: float = 120.0) -> list[Any]:
        """The events topic once it holds ``at_least`` records: events are held until their time slot
        is over (or no line reached it for ``aggregate.allowed_lateness``), then written."""
        self.wait_for(f"{at_least} events, written once their slot is over", lambda: len(self.read("events")) >= at_least,
                      timeout)
        return self.read("events")

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            dead = [p.args for p in self.workers if p.poll() not in (None, 0, -9)]
            assert not dead, f"a worker exited early: see {self.tmp}/worker-*.log"
            assert time.monotonic() < deadline, f"timed out waiting for {what}; logs in {self.tmp}"
            time.sleep(0.5)


# A replayed old log's hour in progress is written once no line reached it for the allowed
# lateness (the end of a stream, or a pause): tests that stop the stream mid-way (a crash, a broker
# restart, a rebalance) wait longer than their pause, so that no event of theirs comes late.
PAUSES = {"LOGSCRUB_AGGREGATE__ALLOWED_LATENESS": "60s"}


def sources(records: list[dict[str, Any]]) -> list[str]:
    return [r["src"] for r in records]


def request_totals(traffic: list[dict[str, Any]]) -> int:
    """Requests in the published base windows (windows under k publish nothing)."""
    return sum(r["requests"] for r in traffic if r["dimension"] == "total" and r["span"] == "1m")


def published(traffic: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per ``id``, as analysts keep them (docs/delivery.md): a window is published once,
    or, after a crash between its records and its mark, twice the same. A second copy that differs
    would let its difference rest on fewer than k clients: it fails here."""
    first: dict[str, dict[str, Any]] = {}
    for r in traffic:
        assert first.setdefault(r["id"], r) == r, f"two different copies of {r['span']} {r['window_start']}"
    return list(first.values())


def scrubbed_traffic(env: dict[str, str], lines: list[bytes], tmp: Path) -> list[dict[str, Any]]:
    """What ``logscrub scrub`` publishes for these lines with this config: a worker that reads them
    in the same order must publish the same windows (invariant 9)."""
    from logscrub.run.scrub_files import scrub

    tmp.mkdir(exist_ok=True)
    log = tmp / "expected.log"
    log.write_bytes(b"".join(line + b"\n" for line in lines))
    cfg = load(None, env={**env, "LOGSCRUB_INPUT__FORMAT": env.get("LOGSCRUB_INPUT__FORMAT", "combined")})
    scrub(cfg, [str(log)], tmp / "expected", progress=False)
    return [orjson.loads(line) for line in (tmp / "expected" / f"{cfg.topics.traffic.name}.jsonl").read_bytes().splitlines()]
