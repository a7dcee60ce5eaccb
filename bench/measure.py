"""Wall time and peak RSS of one fresh run of a command."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# A wrapper process whose only child is the command: RUSAGE_CHILDREN is then that command's peak RSS.
_PROBE = (
    "import resource, subprocess, sys, time\n"
    "cmd = sys.argv[2:]\n"
    "src = open(sys.argv[1], 'rb') if sys.argv[1] != '-' else None\n"
    "t = time.perf_counter()\n"
    "subprocess.run(cmd, stdin=src, stdout=subprocess.DEVNULL, check=True)\n"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def measured_run(cmd: list[str], stdin: Path | None, env: Mapping[str, str] | None = None) -> tuple[float, int]:
    """(seconds, peak RSS in MiB) of ``cmd`` reading ``stdin``, its output discarded."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(stdin) if stdin else "-", *cmd],
        capture_output=True, text=True, check=True, env=env,
    ).stdout.split()
    return float(out[0]), int(out[1]) // 1024
