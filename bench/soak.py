"""A bounded load test (``make soak``): one worker fed at a fixed rate for a fixed time.

``logscrub ship -`` reads lines written to its stdin at ``SOAK_RATE`` lines/s, stamped with the
current time so windows close as they would live; one worker processes them. Every 10 s: the
worker's throughput and consumer lag (from its metrics endpoint) and its RSS (from /proc). At
the end, whether RSS stayed flat (bench.series). Results go to bench/soak.json and bench/soak.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import threading
import time
from itertools import cycle
from pathlib import Path
from typing import IO

from bench import env_int
from bench.broker import broker
from bench.machine import describe, finish, summary
from bench.data import combined_log
from bench.deployment import LOGSCRUB, Deployment, Worker
from bench.lines import clf_time, rewrite
from bench.procfs import rss_mib
from bench.promtext import ready, scrape
from bench.series import flatness

HERE = Path(__file__).resolve().parent
EVERY_S = 10.0
FEED_EVERY_S = 0.05
POOL_LINES = 200_000  # cycled: enough distinct clients, paths and agents to fill the worker's caches
READY_TIMEOUT_S = 120.0



class Feeder:
    """Writes ``rate`` lines/s to ``sink`` in a thread, each stamped with the time it is written."""

    def __init__(self, pool: list[str], rate: int, sink: IO[bytes]) -> None:
        self.pool = pool
        self.rate = rate
        self.sink = sink
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        lines = cycle(self.pool)
        started = time.monotonic()
        while not self._stop.wait(FEED_EVERY_S):
            due = int((time.monotonic() - started) * self.rate) - self.sent
            stamp = clf_time(time.time())
            self.sink.write("".join(rewrite(next(lines), stamp=stamp) + "\n" for _ in range(due)).encode())
            self.sink.flush()
            self.sent += due


def _wait_ready(d: Deployment, worker: Worker) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready(worker.metrics_port):
        d.check_workers()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker was not ready within {READY_TIMEOUT_S:.0f}s; log in {d.dir}")
        time.sleep(0.5)


def soak(bootstrap: str, pool: list[str], seconds: int, rate: int, work: Path) -> list[dict]:
    """One row per EVERY_S: shipped and processed lines, throughput, lag, RSS."""
    d = Deployment(bootstrap, work)
    d.apply_topics()
    worker = d.start_worker()
    rows: list[dict] = []
    try:
        _wait_ready(d, worker)
        shipper = subprocess.Popen([LOGSCRUB, "ship", "-"], stdin=subprocess.PIPE, env=d.env)
        assert shipper.stdin is not None
        feeder = Feeder(pool, rate, shipper.stdin)
        started = time.monotonic()
        feeder.start()
        processed = 0.0
        for tick in range(1, int(seconds // EVERY_S) + 1):
            time.sleep(max(started + tick * EVERY_S - time.monotonic(), 0))
            d.check_workers()
            metrics = scrape(worker.metrics_port)
            now = metrics.get("logscrub_worker_lines_total", 0.0)
            rows.append({
                "t": round(time.monotonic() - started),
                "shipped": feeder.sent,
                "processed": int(now),
                "lines_per_s": round((now - processed) / EVERY_S),
                "lag": int(metrics.get("logscrub_worker_consumer_lag", 0)),
                "rss_mib": round(rss_mib(worker.pid), 1),
            })
            processed = now
            print(rows[-1], flush=True)
        feeder.stop()
        shipper.stdin.close()
        shipper.wait()
    finally:
        d.stop()
    return rows


def _markdown(result: dict) -> str:
    rows = "\n".join(f"| {r['t']} | {r['shipped']:,} | {r['processed']:,} | {r['lines_per_s']:,} | {r['lag']:,} "
                     f"| {r['rss_mib']} |" for r in result["rows"])
    v = result["verdict"]
    verdict = {True: "flat", False: "GROWING", None: "too short to judge"}[v["flat"]]
    return (
        f"# Soak ({result['when']}, {result['seconds']} s at {result['rate']:,} lines/s, one worker, "
        f"{summary(result['machine'])})\n\n"
        "| s | shipped | processed | lines/s (last 10 s) | lag | worker RSS MiB |\n|---|---|---|---|---|---|\n"
        f"{rows}\n\nWorker RSS over the second half: {v['mib_per_hour']} MiB/hour, {v['growth_mib']} MiB over it "
        f"(mean {v['mean_mib']} MiB): **{verdict}** (flat: growth under 2% of the mean).\n\n"
        "Reproduce with `make soak` (SOAK_SECONDS, SOAK_RATE). Lag is the worker's "
        "`logscrub_worker_consumer_lag`, refreshed every 5 s.\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=env_int("SOAK_SECONDS", 600))
    p.add_argument("--rate", type=int, default=env_int("SOAK_RATE", 1000), help="lines/s shipped")
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args(argv)
    machine = describe()

    pool = combined_log(POOL_LINES, a.seed).read_text().splitlines()
    work = Path(tempfile.mkdtemp(prefix="logscrub-soak-"))
    with broker() as bootstrap:
        rows = soak(bootstrap, pool, a.seconds, a.rate, work)
    shutil.rmtree(work, ignore_errors=True)
    judged = flatness([(r["t"], r["rss_mib"]) for r in rows])
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": finish(machine),
        "seconds": a.seconds,
        "rate": a.rate,
        "rows": rows,
        "verdict": {"mib_per_hour": round(judged.slope * 3600, 1), "growth_mib": round(judged.growth, 1),
                    "mean_mib": round(judged.mean, 1), "flat": judged.flat},
    }
    (HERE / "soak.json").write_text(json.dumps(result, indent=1) + "\n")
    md = _markdown(result)
    (HERE / "soak.md").write_text(md)
    print(md)
    from bench import docs  # the docs' figures come from soak.json (bench/docs.py)

    docs.from_results(HERE / "soak.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
