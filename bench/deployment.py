"""One measured logscrub deployment on a shared broker: its own topics, consumer group, keys and processes.

Configured the way users configure it, through ``LOGSCRUB_*`` variables, and driven through the
``logscrub`` command, so the figures are those of what users run.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from logscrub.kafka.topic_specs import ROLES

LOGSCRUB = str(Path(sys.executable).parent / "logscrub")
STOP_TIMEOUT_S = 30


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    metrics_port: int

    @property
    def pid(self) -> int:
        return self.proc.pid


@dataclass
class Deployment:
    bootstrap: str
    workdir: Path
    partitions: int = 1  # of the raw and partials topics: workers that read lines, and window owners
    raw_topic: str | None = None  # an already loaded raw topic, to run fresh workers over it again
    workers: list[Worker] = field(default_factory=list)

    def __post_init__(self) -> None:
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        names = {role: f"{prefix}.{role}" for role in ROLES}
        if self.raw_topic:
            names["raw"] = self.raw_topic
        self.names = names
        self.dir = self.workdir / prefix
        self.dir.mkdir(parents=True)
        self.env = {
            **os.environ,
            "LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "LOGSCRUB_KAFKA__APP_ID": f"{prefix}-app",
            "LOGSCRUB_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "LOGSCRUB_INPUT__FORMAT": "combined",
            "LOGSCRUB_TOPICS__RAW__PARTITIONS": str(self.partitions),
            "LOGSCRUB_TOPICS__PARTIALS__PARTITIONS": str(self.partitions),
            "LOGSCRUB_METRICS__PORT": "0",  # each worker gets a port of its own below
            "TMPDIR": str(self.dir),  # faust's data directory goes to the temporary directory
            **{f"LOGSCRUB_TOPICS__{role.upper()}__NAME": name for role, name in names.items()},
        }

    def topic(self, role: str) -> str:
        return self.names[role]

    def apply_topics(self) -> None:
        subprocess.run([LOGSCRUB, "topics", "apply"], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def start_worker(self) -> Worker:
        port = _free_port()
        log = open(self.dir / f"worker-{len(self.workers)}.log", "wb")  # noqa: SIM115 (the child keeps it)
        proc = subprocess.Popen(
            [LOGSCRUB, "worker"],
            env={**self.env, "LOGSCRUB_METRICS__PORT": str(port)},
            cwd=self.dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        worker = Worker(proc, port)
        self.workers.append(worker)
        return worker

    def check_workers(self) -> None:
        """A benchmark waiting on a dead worker would only time out: say which log to read now."""
        for i, w in enumerate(self.workers):
            if w.proc.poll() is not None:
                raise RuntimeError(f"worker {i} exited with {w.proc.returncode}: see {self.dir}/worker-{i}.log")

    def stop(self) -> None:
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
