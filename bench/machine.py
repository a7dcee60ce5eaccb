"""What a result was measured on, and how busy the machine was: figures from a loaded machine are low."""

from __future__ import annotations

import os
import platform


def describe() -> dict:
    """Taken at the start of a run; ``finish`` adds the load at its end (other jobs may start meanwhile)."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def finish(machine: dict) -> dict:
    return {**machine, "load_average_1m_at_end": round(os.getloadavg()[0], 2)}


def summary(machine: dict) -> str:
    text = f"{machine['cpus']} CPUs, load {machine['load_average_1m_at_start']} at start"
    if "load_average_1m_at_end" in machine:
        text += f" and {machine['load_average_1m_at_end']} at end"
    return text
