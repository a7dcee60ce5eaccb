"""A broker of a test's own, for tests that stop or restart it: the session broker is shared."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

_KAFKA_SH = Path(__file__).resolve().parents[2] / "scripts" / "kafka.sh"
_TIMEOUT_S = 600  # `up` may first download the broker's jars
_STOP_TIMEOUT_S = 60


def kafka_sh(command: str, state_dir: Path) -> str:
    """Run ``scripts/kafka.sh COMMAND STATE_DIR``; its stdout, or an AssertionError with its output."""
    done = subprocess.run(
        ["bash", str(_KAFKA_SH), command, str(state_dir)],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"kafka.sh {command} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout.strip()


def restart_broker(state_dir: Path) -> str:
    """Stop the broker in ``state_dir`` with SIGTERM and start it again (same ports, same data)."""
    return kafka_sh("restart", state_dir)


def stop_broker(state_dir: Path) -> None:
    """Stop the broker in ``state_dir`` with SIGTERM and wait until it has exited; ``start_broker`` brings
    it back with the same ports and data."""
    pid = int((state_dir / "pid").read_text())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert str(state_dir / "server.properties").encode() in cmdline, f"pid {pid} is not the broker of {state_dir}"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while _alive(pid):
        assert time.monotonic() < deadline, f"the broker {pid} did not stop within {_STOP_TIMEOUT_S}s"
        time.sleep(0.1)


def start_broker(state_dir: Path) -> str:
    """Start a stopped broker again (``kafka.sh restart`` when nothing runs only starts it)."""
    return kafka_sh("restart", state_dir)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
