"""Is memory flat? RSS over lines processed, sampled from /proc, for long runs (``make bench-rss``).

* ``logscrub scrub`` over a 5M-line log: RSS at 1M, 2M, ... lines.
* ``logscrub scrub`` over 1M distinct visitors in one day (every line a new client address):
  whatever is kept per visitor shows up as RSS growing with the lines.
* one worker over as many lines as it gets through in ~10 minutes, and over the 1M distinct
  visitors: the worker keeps per-subject keys that ``scrub`` does not.

A series is judged flat when the least-squares growth over its second half (after caches have
filled) stays under 2% of its mean (bench.series). scrub's outputs go to /dev/null: memory,
not disk, is measured. Results go to bench/rss.json and bench/rss.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from itertools import islice
from pathlib import Path
from urllib.error import URLError

from bench import env_int
from bench.broker import broker
from bench.machine import describe, finish, summary
from bench.data import combined_log, visitors_log
from bench.deployment import LOGSCRUB, Deployment
from bench.procfs import read_offset
from bench.promtext import scrape
from bench.sampler import Sampler
from bench.series import at_marks, flatness
from logscrub.config import load
from logscrub.kafka.topic_specs import ROLES

HERE = Path(__file__).resolve().parent
SCRUB_EVERY_S = 1.0
WORKER_EVERY_S = 5.0
MILLION = 1_000_000



def scrub_series(log: Path, lines: int, work: Path) -> dict:
    """RSS of one ``logscrub scrub`` over ``log``, by lines read (from its file offset)."""
    out = work / f"out-{log.stem}"
    out.mkdir()
    cfg = load(None)
    for role in ROLES:
        (out / f"{getattr(cfg.topics, role).name}.jsonl").symlink_to(os.devnull)
    bytes_per_line = log.stat().st_size / lines

    proc = subprocess.Popen([LOGSCRUB, "scrub", str(log), "--out", str(out), "--keys", str(out.parent / "keys" / "keys.json")],
                            stdout=subprocess.DEVNULL)

    def lines_read() -> float | None:
        offset = read_offset(proc.pid, log)
        return None if offset is None else round(offset / bytes_per_line)

    with Sampler(proc.pid, lines_read, SCRUB_EVERY_S) as sampler:
        if proc.wait() != 0:
            raise RuntimeError(f"logscrub scrub {log} exited {proc.returncode}")
    return _summary(sampler, lines)


def worker_series(bootstrap: str, log: Path, lines: int, seconds: int, work: Path) -> dict:
    """RSS of one worker by lines processed (its metrics), over ``lines`` loaded first or ``seconds``."""
    d = Deployment(bootstrap, work)
    d.apply_topics()
    shipper = subprocess.Popen([LOGSCRUB, "ship", "-"], stdin=subprocess.PIPE, env=d.env)
    assert shipper.stdin is not None
    with open(log, "rb") as f:
        shipper.stdin.writelines(islice(f, lines))
    shipper.stdin.close()
    if shipper.wait() != 0:
        raise RuntimeError(f"logscrub ship exited {shipper.returncode}")

    worker = d.start_worker()

    def processed() -> float | None:
        try:
            return scrape(worker.metrics_port).get("logscrub_worker_lines_total")
        except (URLError, ConnectionError):
            return None  # not serving yet

    deadline = time.monotonic() + seconds
    try:
        with Sampler(worker.pid, processed, WORKER_EVERY_S) as sampler:
            while time.monotonic() < deadline and (not sampler.samples or sampler.samples[-1][1] < lines):
                d.check_workers()
                time.sleep(WORKER_EVERY_S)
    finally:
        d.stop()
    done = int(sampler.samples[-1][1]) if sampler.samples else 0
    return {**_summary(sampler, done), "seconds": round(sampler.samples[-1][0]) if sampler.samples else 0}


def _summary(sampler: Sampler, lines: int) -> dict:
    points = sampler.by_progress()
    judged = flatness(points)
    return {
        "lines": lines,
        "rss_mib_at_lines": {str(int(k)): v for k, v in at_marks(points, marks(lines)).items()},
        "peak_rss_mib": max((rss for _, rss in points), default=None),
        "second_half": {"mib_per_1m_lines": round(judged.slope * MILLION, 2), "growth_mib": round(judged.growth, 1),
                        "mean_mib": round(judged.mean, 1), "flat": judged.flat},
        "samples": sampler.samples,  # (seconds, lines, RSS MiB)
    }


def marks(lines: int) -> list[int]:
    """About five round line counts to read RSS at: 1M, 2M, ... for 5M lines."""
    step = max(lines // 5, 1)
    unit = 10 ** (len(str(step)) - 1)
    step = step // unit * unit
    return list(range(step, lines + 1, step))


def compare(visitors: dict, zipf: dict) -> None:
    """Adds to a distinct-visitor series what it costs per visitor, against the Zipf run of the same process."""
    points = [(n, rss) for _, n, rss in zipf["samples"]]
    visitors["zipf_rss_mib_at_same_lines"] = at_marks(points, [visitors["lines"]]).get(visitors["lines"])
    visitors["bytes_per_visitor"] = round(visitors["second_half"]["mib_per_1m_lines"] * 1024 * 1024 / MILLION)


def _markdown(result: dict) -> str:
    def section(title: str, series: dict) -> str:
        rows = "\n".join(f"| {int(k):,} | {v} |" for k, v in series["rss_mib_at_lines"].items())
        half = series["second_half"]
        verdict = {True: "flat", False: "GROWING", None: "too few samples to judge"}[half["flat"]]
        text = (f"## {title}\n\n| lines | RSS MiB |\n|---|---|\n{rows}\n\nPeak {series['peak_rss_mib']} MiB. "
                f"Second half: {half['mib_per_1m_lines']} MiB per 1M lines, {half['growth_mib']} MiB over it "
                f"(mean {half['mean_mib']} MiB): **{verdict}**.\n")
        if "bytes_per_visitor" in series:
            zipf = series["zipf_rss_mib_at_same_lines"]
            text += (f"\nThe Zipf run (~50k clients) was at {f'{zipf} MiB' if zipf else '(not that far)'} after as "
                     f"many lines. Memory per additional visitor over the second half: {series['bytes_per_visitor']} "
                     "bytes.\n")
        return text + "\n"

    s, sv, w, wv = (result[k] for k in ("scrub", "scrub_visitors", "worker", "worker_visitors"))
    return (
        f"# Memory over long runs ({result['when']}, {summary(result['machine'])})\n\n"
        + section(f"logscrub scrub, {s['lines']:,} lines (Zipf, ~50k clients)", s)
        + section(f"logscrub scrub, {sv['lines']:,} distinct visitors in one day", sv)
        + section(f"One worker, {w['lines']:,} lines (Zipf) in {w['seconds']} s", w)
        + section(f"One worker, {wv['lines']:,} distinct visitors in one day, in {wv['seconds']} s", wv)
        + "Reproduce with `make bench-rss` (sizes: BENCH_RSS_LINES, BENCH_RSS_VISITORS, BENCH_RSS_WORKER_LINES, "
        "BENCH_RSS_WORKER_SECONDS). A verdict judges the second half of a run, after caches filled: growth "
        "under 2% of the mean is flat. scrub's progress is estimated from its read offset in the input.\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=env_int("BENCH_RSS_LINES", 5 * MILLION))
    p.add_argument("--visitors", type=int, default=env_int("BENCH_RSS_VISITORS", MILLION))
    p.add_argument("--worker-lines", type=int, default=env_int("BENCH_RSS_WORKER_LINES", 5 * MILLION))
    p.add_argument("--worker-seconds", type=int, default=env_int("BENCH_RSS_WORKER_SECONDS", 600))
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args(argv)
    machine = describe()

    work = Path(tempfile.mkdtemp(prefix="logscrub-bench-rss-"))
    log = combined_log(a.lines, a.seed)
    visitors = visitors_log(a.visitors, a.seed)
    result: dict = {}

    def keep(name: str, series: dict) -> None:
        """Saved as each run ends: a long run stopped half way still leaves what it measured."""
        result[name] = series
        (HERE / "rss.json").write_text(json.dumps(result, indent=1) + "\n")

    keep("scrub", scrub_series(log, a.lines, work))
    keep("scrub_visitors", scrub_series(visitors, a.visitors, work))
    with broker() as bootstrap:
        keep("worker", worker_series(bootstrap, log, min(a.worker_lines, a.lines), a.worker_seconds, work))
        keep("worker_visitors", worker_series(bootstrap, visitors, a.visitors, a.worker_seconds, work))
    compare(result["scrub_visitors"], result["scrub"])
    compare(result["worker_visitors"], result["worker"])
    result["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["machine"] = finish(machine)
    shutil.rmtree(work, ignore_errors=True)
    (HERE / "rss.json").write_text(json.dumps(result, indent=1) + "\n")
    md = _markdown(result)
    (HERE / "rss.md").write_text(md)
    print(md)
    from bench import docs  # the docs' figures come from rss.json (bench/docs.py)

    docs.from_results(HERE / "rss.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
