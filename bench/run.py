"""Measure `logscrub scrub` against its baselines on one generated log, in one run.

Every figure is the median of several runs of a fresh process, with its peak RSS; ratios are
taken between figures of the same run, so they mean something on any machine. Results go to
bench/results.json and bench/results.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from logscrub.sample import generate

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PY = sys.executable


def _log(lines: int, seed: int) -> Path:
    path = DATA / f"combined-{lines}-{seed}.log"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            for start in range(0, lines, 100_000):
                chunk = generate(min(100_000, lines - start), seed=seed + start, clients=50_000, user_agents=2_000)
                f.write("\n".join(chunk) + "\n")
        tmp.rename(path)
    return path


def _measure(cmd: list[str], stdin: Path | None) -> tuple[float, int]:
    """(seconds, peak RSS in MiB) of one fresh run: a wrapper process sees only this child."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "cmd = sys.argv[2:]\n"
        "src = open(sys.argv[1], 'rb') if sys.argv[1] != '-' else None\n"
        "t = time.perf_counter()\n"
        "subprocess.run(cmd, stdin=src, stdout=subprocess.DEVNULL, check=True)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([PY, "-c", probe, str(stdin) if stdin else "-", *cmd], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), int(out[1]) // 1024


def _figure(name: str, cmd: list[str], stdin: Path | None, lines: int, runs: int) -> dict:
    samples = [_measure(cmd, stdin) for _ in range(runs)]
    seconds = statistics.median(s for s, _ in samples)
    return {
        "name": name,
        "seconds": round(seconds, 3),
        "lines_per_s": round(lines / seconds),
        "peak_rss_mib": max(r for _, r in samples),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args(argv)

    log = _log(a.lines, a.seed)
    out_dir = Path(tempfile.mkdtemp(prefix="logscrub-bench-"))
    figures = [
        _figure("read + write (binary)", [PY, "-m", "bench.read_only"], log, a.lines, a.runs),
        _figure("regex + orjson floor", [PY, "-m", "bench.floor"], log, a.lines, a.runs),
    ]
    anonip = shutil.which("anonip", path=str(Path(PY).parent))
    if anonip:
        figures.append(_figure("anonip --ipv4mask 8 --ipv6mask 80", [anonip, "--ipv4mask", "8", "--ipv6mask", "80"],
                               log, a.lines, a.runs))
    figures.append(_figure("logscrub scrub (default pipeline)",
                           [str(Path(PY).parent / "logscrub"), "scrub", str(log), "--out", str(out_dir)],
                           None, a.lines, a.runs))
    shutil.rmtree(out_dir, ignore_errors=True)

    by = {f["name"]: f for f in figures}
    scrub = by["logscrub scrub (default pipeline)"]
    ratios = {"scrub / regex+orjson floor": round(scrub["lines_per_s"] / by["regex + orjson floor"]["lines_per_s"], 3)}
    if anonip:
        ratios["scrub / anonip"] = round(scrub["lines_per_s"] / by["anonip --ipv4mask 8 --ipv6mask 80"]["lines_per_s"], 3)
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "input": {"lines": a.lines, "seed": a.seed, "bytes": log.stat().st_size},
        "figures": figures,
        "ratios": ratios,
    }
    (HERE / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(
        f"| {f['name']} | {f['lines_per_s']:,} | {f['seconds']} | {f['peak_rss_mib']} |" for f in figures
    )
    md = (
        f"# Benchmark ({result['when']}, {a.lines:,} generated combined lines, {result['machine']['cpus']} CPUs, "
        f"median of {a.runs})\n\n| what | lines/s | seconds | peak RSS MiB |\n|---|---|---|---|\n{rows}\n\n"
        + "\n".join(f"- {k}: **{v}**" for k, v in ratios.items())
        + "\n\nReproduce with `make bench` (figures vary by machine; the ratios are what to compare).\n"
    )
    (HERE / "results.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
