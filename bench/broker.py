"""The broker the Kafka benchmarks run against: a fresh one from scripts/kafka.sh, or one named in BENCH_BOOTSTRAP."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KAFKA_SH = Path(__file__).resolve().parents[1] / "scripts" / "kafka.sh"
UP_TIMEOUT_S = 600  # `up` first fetches the jars on a fresh clone


@contextmanager
def broker() -> Iterator[str]:
    """A bootstrap address for the block; a broker started here is stopped and its data deleted after it.

    Every benchmark makes topics and a consumer group of its own, so a reused broker is not disturbed.
    """
    reuse = os.environ.get("BENCH_BOOTSTRAP")
    if reuse:
        yield reuse
        return
    state = Path(tempfile.mkdtemp(prefix="logscrub-bench-kafka-"))
    address = _kafka_sh("up", state)
    try:
        yield address
    finally:
        _kafka_sh("down", state)
        shutil.rmtree(state, ignore_errors=True)


def _kafka_sh(command: str, state: Path) -> str:
    done = subprocess.run(["bash", str(KAFKA_SH), command, str(state)], capture_output=True, text=True,
                          timeout=UP_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"kafka.sh {command} {state} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()
