"""What the benchmarks read off running processes: /proc, /metrics, and the sampler around them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from bench.procfs import peak_rss_mib, proc_field, read_offset, rss_mib
from bench.promtext import totals
from bench.sampler import Sampler

STATUS = "Name:\tpython\nVmHWM:\t  224520 kB\nVmRSS:\t  221748 kB\nThreads:\t3\n"
METRICS = """\
# HELP logscrub_worker_lines_total Lines read from the raw topic.
# TYPE logscrub_worker_lines_total counter
logscrub_worker_lines_total 200000.0
# HELP logscrub_worker_consumer_lag Raw lines not yet processed.
# TYPE logscrub_worker_consumer_lag gauge
logscrub_worker_consumer_lag{partition="0"} 120.0
logscrub_worker_consumer_lag{partition="1"} 30.0
"""


def test_proc_fields_are_read_by_name() -> None:
    assert proc_field(STATUS, "VmRSS") == 221748
    assert proc_field(STATUS, "VmHWM") == 224520
    assert proc_field("pos:\t8192\nflags:\t0100000\n", "pos") == 8192


def test_own_memory_is_plausible_and_peak_is_not_below_now() -> None:
    now, peak = rss_mib(os.getpid()), peak_rss_mib(os.getpid())
    assert 5 < now <= peak


def test_read_offset_follows_a_file_being_read(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"x" * 10_000)
    assert read_offset(os.getpid(), path) is None
    with open(path, "rb", buffering=0) as f:
        f.read(1234)
        assert read_offset(os.getpid(), path) == 1234


def test_metric_totals_sum_over_labels() -> None:
    got = totals(METRICS)
    assert got["logscrub_worker_lines_total"] == 200000.0
    assert got["logscrub_worker_consumer_lag"] == 150.0


def test_sampler_records_progress_and_rss_and_skips_unknown_progress() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    calls = 0
    enough = threading.Event()

    def progress() -> float | None:
        nonlocal calls
        calls += 1
        if calls >= 4:
            enough.set()
        return None if calls == 1 else float(calls)

    try:
        with Sampler(child.pid, progress, every=0.01) as sampler:
            assert enough.wait(10)
    finally:
        child.communicate(b"")
    assert [done for _, done, _ in sampler.samples][:3] == [2.0, 3.0, 4.0]
    assert all(rss > 1 for _, _, rss in sampler.samples)
    assert sampler.by_progress()[0] == (2.0, sampler.samples[0][2])
