"""The generated logs the benchmarks read, cached in bench/data (ignored by git); seeded: every run reads the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bench.lines import clf_time, distinct_client, rewrite
from bench.sample import generate

DATA = Path(__file__).resolve().parent / "data"
CHUNK = 100_000
DAY_START = datetime(2026, 11, 28, tzinfo=UTC).timestamp()
# The combined log's first line: early enough that a log of millions of lines (0.4 s apart) is over
# before the run. scrub writes only what is over by the clock; a log running past now would leave
# its last days held in memory and unwritten, which is not what a benchmark of old logs measures.
COMBINED_START = datetime(2026, 9, 1, 10, tzinfo=UTC)


def combined_log(lines: int, seed: int) -> Path:
    """Zipf clients (~50k, 15% IPv6), ~2,000 user agents; a shorter log is a prefix of a longer one."""
    return _cached(f"combined-{lines}-{seed}-{COMBINED_START:%Y%m%d}.log", _combined(lines, seed))


def visitors_log(lines: int, seed: int) -> Path:
    """Every line from a client never seen before, all within one day: the worst case for per-visitor state."""
    step = 86_400 / lines

    def rewritten() -> Iterator[str]:
        for i, line in enumerate(_combined(lines, seed)):
            yield rewrite(line, distinct_client(i), clf_time(DAY_START + i * step))

    return _cached(f"visitors-{lines}-{seed}.log", rewritten())


def _combined(lines: int, seed: int) -> Iterator[str]:
    start = COMBINED_START
    for first in range(0, lines, CHUNK):
        chunk = generate(min(CHUNK, lines - first), seed=seed + first, clients=50_000, user_agents=2_000, start=start)
        yield from chunk
        start = _time_of(chunk[-1])  # the clock runs on across chunks, as a real log's does


def _time_of(line: str) -> datetime:
    return datetime.strptime(line[line.index("[") + 1:line.index("]")], "%d/%b/%Y:%H:%M:%S %z")


def _cached(name: str, lines: Iterator[str]) -> Path:
    path = DATA / name
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            for line in lines:
                f.write(line + "\n")
        tmp.rename(path)
    return path
