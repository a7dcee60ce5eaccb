"""End to end through a broker: ``logscrub ship`` into logs.raw, then 1 and 2 workers over it.

Lines are loaded before the workers start, so a worker's rate is what it does with a full
topic in front of it, not the shipper's. Once sealed and rejected lines account for every line, a
run's rate is taken from the broker timestamps of its sealed lines, from the one at a quarter of them
to the last (``TopicStats.steady_rate``), on the sealed lines (broker timestamps): start-up, the rebalance while a second worker joins,
and the idle time before the benchmark notices the end, are left out. Each run gets fresh output topics and a fresh consumer group over the
same loaded raw topic.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench.deployment import LOGSCRUB, Deployment
from bench.measure import measured_run
from bench.procfs import peak_rss_mib
from bench.promtext import by_label, scrape_text, totals
from bench.topicstats import TopicStats

POLL_S = 1.0
MIN_RATE = 200  # lines/s; slower than this and a run is taken for hung


def measure(bootstrap: str, log: Path, lines: int, runs: int, workdir: Path) -> list[dict]:
    """The shipper's figure and one figure per worker count (1 and 2), each over ``runs`` runs."""
    ships: list[tuple[float, int]] = []
    figures: list[dict] = []
    for workers in (1, 2):
        loaded = Deployment(bootstrap, workdir, partitions=workers)
        loaded.apply_topics()
        ships.append(_ship(loaded, log, lines))
        samples = [_run(Deployment(bootstrap, workdir, workers, loaded.topic("raw")), workers, lines)
                   for _ in range(runs)]
        seconds = statistics.median(s["seconds"] for s in samples)
        figures.append({
            "name": f"end to end, {workers} worker{'s' if workers > 1 else ''} ({workers} raw partition"
                    f"{'s' if workers > 1 else ''})",
            "seconds": round(seconds, 3),
            "lines_per_s": round(lines / seconds),
            "lines_per_s_per_worker": round(lines / seconds / workers),
            "peak_rss_mib": max(s["peak_rss_mib"] for s in samples),
            "runs": runs,
            "duplicates": sum(s["duplicates"] for s in samples),
            "busiest_worker_share": round(max(s["busiest_share"] for s in samples), 3),
            "cpu_us_per_line": samples[len(samples) // 2]["cpu_us_per_line"],
        })
    seconds = statistics.median(s for s, _ in ships)
    figures.insert(0, {
        "name": "logscrub ship -> logs.raw",
        "seconds": round(seconds, 3),
        "lines_per_s": round(lines / seconds),
        "peak_rss_mib": max(r for _, r in ships),
        "runs": len(ships),
    })
    return figures


def _ship(d: Deployment, log: Path, lines: int) -> tuple[float, int]:
    """(seconds ``lines`` take at the rate they reached logs.raw, peak RSS of the shipper)."""
    _, peak = measured_run([LOGSCRUB, "ship", str(log)], None, d.env)
    with TopicStats(d.bootstrap) as stats:
        raw = [d.topic("raw")]
        if (n := stats.count(raw)) != lines:
            raise RuntimeError(f"logs.raw holds {n} records after shipping {lines} lines")
        records, seconds = stats.steady_rate(raw)  # a raw-zone topic: broker (LogAppendTime) timestamps
    return lines * seconds / records, peak


def _run(d: Deployment, workers: int, lines: int) -> dict:
    d.apply_topics()
    # Every line is sealed (security) or rejected; an event may be withheld by the owner's share cap.
    outputs = [d.topic("security"), d.topic("rejected")]
    deadline = time.monotonic() + 120 + lines / MIN_RATE
    try:
        for _ in range(workers):
            d.start_worker()
        with TopicStats(d.bootstrap) as stats:
            while (done := stats.count(outputs)) < lines:
                d.check_workers()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{done} of {lines} lines accounted for; worker logs in {d.dir}")
                time.sleep(POLL_S)
            peak = max(peak_rss_mib(w.pid) for w in d.workers)
            texts = [scrape_text(w.metrics_port) for w in d.workers]
            by_worker = [totals(t).get("logscrub_worker_lines_total", 0.0) for t in texts]
            # Timed on the sealed lines: a raw-zone topic, stamped by the broker (LogAppendTime), one
            # per event; events carry their coarse event time as timestamp.
            events = stats.count([d.topic("security")])
            records, seconds = stats.steady_rate([d.topic("security")])
    finally:
        d.stop()
    return {
        "cpu_us_per_line": cpu_split(texts, sum(by_worker)),
        "seconds": seconds * events / records,  # all lines at the steady rate (rejections ride along)
        "peak_rss_mib": round(peak),
        "duplicates": done - lines,  # at least once: a rebalance at start-up may replay a batch
        "busiest_share": max(by_worker) / (sum(by_worker) or 1),
    }


def cpu_split(texts: list[str], lines: float) -> dict[str, float]:
    """Workers' CPU per line processed (µs), by part: the core, keys, windows, and the rest of the
    process (Kafka clients and faust), from their own metrics."""
    parts: dict[str, float] = {}
    process = 0.0
    for text in texts:
        for part, seconds in by_label(text, "logscrub_worker_cpu_seconds_total", "part").items():
            parts[part] = parts.get(part, 0.0) + seconds
        process += totals(text).get("process_cpu_seconds_total", 0.0)
    parts["Kafka clients and faust"] = max(process - sum(parts.values()), 0.0)
    parts["total"] = process
    return {part: round(seconds / lines * 1e6, 1) for part, seconds in parts.items()} if lines else {}
