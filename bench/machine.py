"""What a result was measured on, including how busy the machine already was: figures from a loaded machine lie."""

from __future__ import annotations

import os
import platform


def describe() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def summary(machine: dict) -> str:
    return f"{machine['cpus']} CPUs, load {machine['load_average_1m_at_start']} at start"
