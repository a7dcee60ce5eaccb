"""Reading a logscrub process's /metrics endpoint: progress and lag without touching its topics."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families


def totals(text: str) -> dict[str, float]:
    """Each sample name's value summed over its labels (lag over partitions, rejections over reasons)."""
    out: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name] += sample.value
    return dict(out)


def by_label(text: str, name: str, label: str) -> dict[str, float]:
    """One sample name's values by one of its labels."""
    out: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[sample.labels.get(label, "")] += sample.value
    return dict(out)


def scrape_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return totals(r.read().decode())


def ready(port: int) -> bool:
    """Whether the process says it is ready (a worker: it holds partitions of its group)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False
