"""Memory and read position of a running process, from /proc (psutil is not a dependency)."""

from __future__ import annotations

import os
from pathlib import Path


def proc_field(text: str, field: str) -> int:
    """The number in a ``name: value [unit]`` line of a /proc text (status in kB, fdinfo's pos in bytes)."""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise KeyError(field)


def rss_mib(pid: int) -> float:
    """Resident memory now: what a leak makes grow."""
    return proc_field(Path(f"/proc/{pid}/status").read_text(), "VmRSS") / 1024


def peak_rss_mib(pid: int) -> float:
    """The high-water mark of resident memory; only readable while the process lives."""
    return proc_field(Path(f"/proc/{pid}/status").read_text(), "VmHWM") / 1024


def read_offset(pid: int, path: Path) -> int | None:
    """How far ``pid`` has read into ``path``: progress of a process that reports none.

    None while it does not hold the file open.
    """
    target = str(path.resolve())
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return proc_field(Path(f"/proc/{pid}/fdinfo/{fd}").read_text(), "pos")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None
