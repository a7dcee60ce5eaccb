"""The local driver: files in, one JSON-lines file per output topic out, no broker.

The same core as the Kafka worker; used for batch jobs, the demo and as the
embedded default. Keys live in ``keys.json`` under the output directory.
"""

from __future__ import annotations

import gc
import gzip
import io
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO

import orjson

from logscrub import pipeline
from logscrub.config import Config
from logscrub.keys import KeyFile

DETECT_LINES = 50
_WRITE_BUFFER = 1 << 20  # the two outputs that get a record per line


@dataclass
class Summary:
    lines: int = 0
    events: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    aggregates: int = 0
    seconds: float = 0.0
    format: str = ""

    @property
    def accounted(self) -> bool:
        return self.events + sum(self.rejected.values()) == self.lines

    def render(self) -> str:
        rate = self.lines / self.seconds if self.seconds else 0.0
        lines = [
            f"format:     {self.format}",
            f"lines read: {self.lines}",
            f"events:     {self.events}",
            f"rejected:   {sum(self.rejected.values())}"
            + (f" ({', '.join(f'{r}: {n}' for r, n in self.rejected.most_common())})" if self.rejected else ""),
            f"aggregates: {self.aggregates} records",
            f"accounted:  {'yes' if self.accounted else 'NO'} (events + rejected = lines read)",
            f"time:       {self.seconds:.2f}s ({rate:,.0f} lines/s)",
        ]
        return "\n".join(lines)


def open_input(name: str) -> BinaryIO:
    """A binary stream of a file, gzip or not (by magic bytes), or stdin for '-'."""
    raw: BinaryIO = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
    return buffered


def read_lines(names: list[str]) -> Iterator[bytes]:
    for name in names:
        with open_input(name) as f:
            yield from f


def scrub(cfg: Config, inputs: list[str], out_dir: str | Path, progress: bool | None = None) -> Summary:
    """Run the whole pipeline over ``inputs``; every line ends in exactly one output file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = read_lines(inputs)
    head = list(islice(lines, DETECT_LINES))
    summary = Summary(format=pipeline.resolve_format(cfg, (b.decode("utf-8", "replace") for b in head)))
    visitor, data = pipeline.key_rings(cfg, KeyFile(out / "keys.json"))
    scrubber = pipeline.build_scrubber(cfg, summary.format, visitor, data)
    aggregator = pipeline.build_aggregator(cfg)
    topics = cfg.topics
    show = sys.stderr.isatty() if progress is None else progress
    started = time.perf_counter()
    dumps = orjson.dumps
    one_line = orjson.OPT_APPEND_NEWLINE
    process = scrubber.process
    add = aggregator.add
    n = n_events = 0

    with (
        _few_collections(),
        open(out / f"{topics.events.name}.jsonl", "wb", buffering=_WRITE_BUFFER) as events,
        open(out / f"{topics.traffic.name}.jsonl", "wb") as traffic,
        open(out / f"{topics.security.name}.jsonl", "wb", buffering=_WRITE_BUFFER) as security,
        open(out / f"{topics.rejected.name}.jsonl", "wb") as rejected,
    ):
        # Written line by line: a batch of orjson's outputs would hold ~8 KiB of memory per line.
        write_event, write_sealed = events.write, security.write
        now = time.time()
        for n, line in enumerate(chain(head, lines), 1):
            if n & 0x3FFF == 0:
                now = time.time()
                visitor.expire()
                data.expire()
                for rec in aggregator.close_due():
                    traffic.write(dumps(rec, option=one_line))
                    summary.aggregates += 1
                if show:
                    _progress(n, time.perf_counter() - started)
            o = process(line, now, str(n))
            if o.reason is None:
                write_event(dumps(o.event, option=one_line))
                write_sealed(dumps(o.sealed, option=one_line))
                add(o.update)  # type: ignore[arg-type]
                n_events += 1
            else:
                rejected.write(dumps(o.sealed, option=one_line))
                summary.rejected[o.reason] += 1
        for rec in aggregator.flush():
            traffic.write(dumps(rec, option=one_line))
            summary.aggregates += 1
    summary.lines = n
    summary.events = n_events
    if show:
        sys.stderr.write("\r\033[K")
    summary.seconds = time.perf_counter() - started
    return summary


@contextmanager
def _few_collections() -> Iterator[None]:
    """Rule tables and caches are long-lived: rescanning them in every full collection cost ~5% of a run."""
    threshold = gc.get_threshold()
    ours = gc.get_freeze_count() == 0  # never thaw what a caller froze
    if ours:
        gc.freeze()
    gc.set_threshold(10_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if ours:
            gc.unfreeze()


def _progress(n: int, elapsed: float) -> None:
    rate = n / elapsed if elapsed else 0
    sys.stderr.write(f"\r{n:,} lines  {rate:,.0f} lines/s")
    sys.stderr.flush()
