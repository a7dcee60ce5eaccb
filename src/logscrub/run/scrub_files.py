"""``logscrub scrub``: files in, one JSON-lines file per output topic out, the same core as the worker."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO

import orjson

from logscrub.config import Config
from logscrub.crypto.keyfile import KeyFile, default_path
from logscrub.files.read import read_lines
from logscrub.parsing.shipped import unwrap
from logscrub.run.collector import few_collections
from logscrub.run.progress import Progress
from logscrub.scrub import build
from logscrub.scrub.json_bytes import json_bytes
from logscrub.scrub.routing import EVENTS, ROLES, Routed
from logscrub.scrub.slots import event_json
from logscrub.scrub.windows import Emission, WindowOwner

_WRITE_BUFFER = 1 << 20
_BATCH = 4096  # lines the core takes at once, between writes, key expiry and window closing


@dataclass
class Summary:
    lines: int = 0
    events: int = 0  # written
    withheld: int = 0  # lines sealed only: their event, or their counts, would have followed one client
    late_events: int = 0  # events of a time slot already written (input out of time order): sealed only
    not_over: int = 0  # events of a time slot not over yet when the run ended: sealed only, written by a later run
    open_windows: int = 0  # windows (any span) not over yet when the run ended: not written
    rejected: Counter[str] = field(default_factory=Counter)
    aggregates: int = 0
    suppressed: int = 0  # buckets under k, folded into (other) or left out with their window
    late: int = 0  # requests that reached a window already written (counted in rollups only)
    undercounted: int = 0  # rollup records leaving out fewer than k visitors no shorter window showed
    seconds: float = 0.0
    format: str = ""

    @property
    def accounted(self) -> bool:
        return self.events + self.withheld + self.late_events + self.not_over + sum(self.rejected.values()) == self.lines

    def render(self) -> str:
        rate = self.lines / self.seconds if self.seconds else 0.0
        lines = [
            f"format:     {self.format}",
            f"lines read: {self.lines}",
            f"events:     {self.events}",
            f"withheld:   {self.withheld} (sealed only: published, each would have let a group follow a client)",
            *([f"late:       {self.late_events} events of a time slot already written (sealed only; read files "
               "oldest first)"] if self.late_events else []),
            *([f"not over:   {self.not_over} events and {self.open_windows} windows of times not over (plus "
               "aggregate.allowed_lateness) when the run ended: not written; scrub the log again once they are"]
              if self.not_over or self.open_windows else []),
            f"rejected:   {sum(self.rejected.values())}"
            + (f" ({', '.join(f'{r}: {n}' for r, n in self.rejected.most_common())})" if self.rejected else ""),
            f"aggregates: {self.aggregates} records ({self.suppressed} buckets under k folded or left out"
            + (f"; {self.undercounted} rollup records short by under k" if self.undercounted else "")
            + (f"; {self.late} late requests in rollups only)" if self.late else ")"),
            f"accounted:  {'yes' if self.accounted else 'NO'} (events + withheld + late + not over + rejected = "
            "lines read)",
            f"time:       {self.seconds:.2f}s ({rate:,.0f} lines/s)",
        ]
        return "\n".join(lines)


def scrub(
    cfg: Config, inputs: list[str], out_dir: str | Path, progress: bool | None = None, keys: str | Path | None = None,
    clock: Callable[[], float] = time.time,
) -> Summary:
    """Run the whole pipeline over ``inputs``; every line ends in exactly one output file.

    The keys go to ``keys`` (default ``keyfile.default_path()``), never into ``out_dir``. ``clock``
    says when the run ends, and so which slots and windows are over and which day's keys are
    current (a test runs a cron job's day).
    """
    out = Path(out_dir)
    # Visitor keys of days already over served this run only: they are not kept (docs/security.md).
    keyfile = KeyFile(keys or default_path(), outputs=out, past_not_kept={"visitor": cfg.keys.visitor_rotation},
                      clock=clock)
    keyfile.expire()
    out.mkdir(parents=True, exist_ok=True)
    lines = read_lines(inputs)
    head = list(islice(lines, 1))  # a missing first input stops the run before any output is written
    summary = Summary(format=cfg.input.format)
    visitor, data = build.key_rings(cfg, keyfile, clock)
    core = build.core(cfg, cfg.input.format, visitor, data, subjects=True)
    subjects = core.subjects
    assert subjects is not None
    max_line = cfg.input.max_line_bytes
    owner = build.window_owner(cfg.aggregate, cfg.events.time_granularity)
    routed = Routed(owner.base, newline=True)
    show = Progress(lines, progress)
    started = time.perf_counter()
    paths = {role: out / f"{getattr(cfg.topics, role).name}.jsonl" for role in (*ROLES, "traffic")}

    with few_collections(), ExitStack() as stack:
        files = {role: stack.enter_context(open(path, "wb", buffering=_WRITE_BUFFER)) for role, path in paths.items()}
        now = clock()
        read = chain(head, lines)
        n = 0
        while batch := [unwrap(line, max_line) for line in islice(read, _BATCH)]:
            done = core.run(batch, now, [str(i) for i in range(n + 1, n + len(batch) + 1)], routed)
            if done.need is not None:  # the keys file answers at once: never
                raise RuntimeError(f"a {done.need.ring} key the keys file did not give")
            n += len(batch)
            if len(batch) < _BATCH:
                break
            now = clock()
            visitor.expire()
            data.expire()
            keyfile.add_subjects(subjects.take_pending())  # before the lines sealed under them
            _publish(files, owner, routed, now, finish=False)
            show.update(n)
        keyfile.add_subjects(subjects.take_pending())
        _publish(files, owner, routed, clock(), finish=True)
    keyfile.expire()
    summary.lines = routed.lines
    summary.late_events = owner.slots.late
    refused = owner.slots.groups.refused  # the owner's check of the join rule: none when it held here
    summary.not_over = owner.slots.held
    summary.open_windows = sum(len(level.open_windows()) for level in owner.levels)
    summary.events = routed.events - summary.late_events - refused - summary.not_over  # made, less those not written
    summary.withheld = routed.withheld + refused
    summary.rejected = routed.rejected
    summary.aggregates = sum(level.emitted for level in owner.levels)
    summary.suppressed = sum(level.suppressed for level in owner.levels)
    summary.late = owner.base.late
    summary.undercounted = sum(level.undercounted for level in owner.levels)
    show.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _publish(files: dict[str, BinaryIO], owner: WindowOwner[None], routed: Routed, now: float, finish: bool) -> None:
    """The batch's sealed lines; its events to their slots, and the windows and slots now over (at
    the end of input, every one over by the wall clock)."""
    records, held = routed.take()
    for role, values in records.items():
        files[role].writelines(values)
    out = owner.settle(Emission(forward=held), now)
    # At the end, only what is over by the wall clock: a slot or window still open would be written
    # again, revised, by the next run over the growing log (cron), and the difference would rest on
    # fewer than k clients (red-team round 3: 10.4% of events linked by the run they came in).
    more = owner.finish(now, wall=now) if finish else owner.settle(owner.due(), now)
    out.records += more.records
    out.events += more.events
    files["traffic"].writelines(_json_lines(out.records))
    files[EVENTS].writelines([event_json(event, orjson.OPT_APPEND_NEWLINE) for event in out.events])


def _json_lines(records: list[dict]) -> list[bytes]:
    return [json_bytes(rec, orjson.OPT_APPEND_NEWLINE) for rec in records]
