"""A broker of a test's own, for tests that stop or restart it: the session broker is shared."""

from __future__ import annotations

import subprocess
from pathlib import Path

_KAFKA_SH = Path(__file__).resolve().parents[2] / "scripts" / "kafka.sh"
_TIMEOUT_S = 600  # `up` may first download the broker's jars


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
