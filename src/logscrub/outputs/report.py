"""What can be measured from the analytics outputs alone (``logscrub report``): pure, no I/O.

Feed it records one by one (``Measure.event``, ``Measure.traffic``), however they were read, and take
the ``Report``. For events, per day (UTC): the groups of client-describing fields (invariant 2's
groups: ``site, browser, browser_major, os, os_major, device, bot, country, asn, as_org``, and
``client`` when published) and the smallest of them, and how often a value had to give way to the
``(rare)`` placeholder. For traffic: buckets per span, the share of ``(other)`` buckets, windows
published per site and span. For both: duplicates by ``id`` (at-least-once delivery); a duplicate is
counted once in every other figure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from logscrub.scrub.aggregate import OTHER, TOTAL
from logscrub.scrub.aggregate import SCHEMA as TRAFFIC_SCHEMA
from logscrub.scrub.scrubber import DESCRIPTION, EVENT_SCHEMA, RARE

CLIENT_FIELDS = (*DESCRIPTION, "client")  # client: only with events.client network | pseudonym
PLACEHOLDERS = ("path", "browser", "description", "referrer_domain")


@dataclass
class Day:
    """One day of events."""

    day: str
    events: int = 0
    groups: int = 0
    smallest_group: int = 0
    by_day: int = 0  # published with their day as their time (span 1d): over their slot's share cap
    rare: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PLACEHOLDERS, 0))
    # What each share is of: every event for browser and description; events with a path, and with a
    # referrer domain, for those (a malformed request has no path, most requests no referrer).
    of: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PLACEHOLDERS, 0))

    def share(self, placeholder: str) -> float | None:
        return self.rare[placeholder] / self.of[placeholder] if self.of[placeholder] else None


@dataclass
class Span:
    """The traffic buckets of one span (``1m``, ``1h``, ``1d``)."""

    span: str
    buckets: int = 0  # records, total included
    totals: int = 0
    other: int = 0  # (other) buckets

    @property
    def other_share(self) -> float | None:
        values = self.buckets - self.totals
        return self.other / values if values else None


@dataclass
class Report:
    events: int
    event_duplicates: int
    days: list[Day]
    traffic: int
    traffic_duplicates: int
    spans: list[Span]
    windows: dict[str, dict[str, int]]  # site -> span -> windows published
    unreadable: dict[str, int]  # role -> records that are not JSON objects of the schema we measure

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``: plain values, shares as fractions (null where there is nothing to share)."""
        return {
            "events": {
                "records": self.events,
                "duplicates": self.event_duplicates,
                "days": [
                    {**asdict(d), "rare_share": {p: d.share(p) for p in PLACEHOLDERS}} for d in self.days
                ],
            },
            "traffic": {
                "records": self.traffic,
                "duplicates": self.traffic_duplicates,
                "spans": [{**asdict(s), "other_share": s.other_share} for s in self.spans],
                "windows": self.windows,
            },
            "unreadable": self.unreadable,
        }


class Measure:
    """Accumulates records; ``report()`` any time."""

    def __init__(self) -> None:
        self._event_ids: set[str] = set()
        self._traffic_ids: set[str] = set()
        self._events = self._event_dups = self._traffic = self._traffic_dups = 0
        self._days: dict[str, Day] = {}
        self._groups: dict[str, Counter[tuple[Any, ...]]] = {}
        self._spans: dict[str, Span] = {}
        self._windows: dict[str, dict[str, set[str]]] = {}
        self.unreadable: Counter[str] = Counter()

    def event(self, rec: Any) -> None:
        """One record of ``analytics.events`` (a parsed JSON value, of whatever shape)."""
        if not _of_schema(rec, EVENT_SCHEMA, "time"):
            self.unreadable["events"] += 1
            return
        self._events += 1
        if _seen(self._event_ids, rec.get("id")):
            self._event_dups += 1
            return
        day_key = str(rec["time"])[:10]
        day = self._days.get(day_key) or self._days.setdefault(day_key, Day(day_key))
        day.events += 1
        day.by_day += rec.get("span") == "1d"
        self._groups.setdefault(day_key, Counter())[tuple(rec.get(f) for f in CLIENT_FIELDS)] += 1
        day.of["browser"] += 1
        day.of["description"] += 1
        day.rare["browser"] += rec.get("browser") == RARE
        day.rare["description"] += rec.get("site") == RARE  # the last resort: every client field (rare)
        for name, key in (("path", "path"), ("referrer_domain", "referrer_domain")):
            if rec.get(key) is not None:
                day.of[name] += 1
                day.rare[name] += rec[key] == RARE

    def traffic(self, rec: Any) -> None:
        """One record of ``analytics.traffic``."""
        if not _of_schema(rec, TRAFFIC_SCHEMA, "span", "site", "window_start", "dimension"):
            self.unreadable["traffic"] += 1
            return
        self._traffic += 1
        if _seen(self._traffic_ids, rec.get("id")):
            self._traffic_dups += 1
            return
        span_key = str(rec["span"])
        span = self._spans.get(span_key) or self._spans.setdefault(span_key, Span(span_key))
        span.buckets += 1
        span.totals += rec["dimension"] == TOTAL
        span.other += rec["dimension"] != TOTAL and rec.get("value") == OTHER
        self._windows.setdefault(str(rec["site"]), {}).setdefault(span_key, set()).add(str(rec["window_start"]))

    def report(self) -> Report:
        days = []
        for key in sorted(self._days):
            day, sizes = self._days[key], self._groups[key].values()
            day.groups, day.smallest_group = len(sizes), min(sizes)
            days.append(day)
        return Report(
            events=self._events,
            event_duplicates=self._event_dups,
            days=days,
            traffic=self._traffic,
            traffic_duplicates=self._traffic_dups,
            spans=sorted(self._spans.values(), key=lambda s: _span_seconds(s.span)),
            windows={
                site: {s: len(w) for s, w in sorted(spans.items(), key=lambda sw: _span_seconds(sw[0]))}
                for site, spans in sorted(self._windows.items())
            },
            unreadable={role: self.unreadable[role] for role in ("events", "traffic")},
        )


def render(report: Report, events_name: str = "analytics.events", traffic_name: str = "analytics.traffic") -> str:
    """The report as aligned text tables."""
    out = [f"{events_name}: {report.events:,} records, {report.event_duplicates:,} duplicates by id"]
    if report.unreadable["events"]:
        out[-1] += f", {report.unreadable['events']:,} not logscrub.event/2 (left out)"
    if report.days:
        rows: list[tuple[str, ...]] = [("day", "events", "groups", "smallest group", "rare path", "rare browser", "rare description",
                 "rare referrer", "by the day")]
        rows += [
            (d.day, f"{d.events:,}", f"{d.groups:,}", f"{d.smallest_group:,}",
             *(_pct(d.share(p)) for p in PLACEHOLDERS), _pct(d.by_day / d.events))
            for d in report.days
        ]
        out += _table(rows)
        out.append("groups: the day's events grouped by their client fields; smallest group: its events;")
        out.append("rare: share of events showing (rare) (description: every client field is; path, referrer:")
        out.append("of the events that have one); by the day: published with their day as their time (span 1d)")
    out.append("")
    out.append(f"{traffic_name}: {report.traffic:,} records, {report.traffic_duplicates:,} duplicates by id")
    if report.unreadable["traffic"]:
        out[-1] += f", {report.unreadable['traffic']:,} not logscrub.traffic/2 (left out)"
    if report.spans:
        spans: list[tuple[str, ...]] = [("span", "buckets", "totals", "(other)")]
        spans += [(s.span, f"{s.buckets:,}", f"{s.totals:,}", _pct(s.other_share)) for s in report.spans]
        out += _table(spans)
        out.append("(other): share of the dimension buckets (all but total) that hold folded values")
        names = [s.span for s in report.spans]
        sites: list[tuple[str, ...]] = [("site", *(f"{s} windows" for s in names))]
        sites += [(site, *(f"{windows.get(s, 0):,}" for s in names)) for site, windows in report.windows.items()]
        out.append("")
        out += _table(sites)
    return "\n".join(out) + "\n"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
        for row in rows
    ]


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


def _of_schema(rec: Any, schema: str, *needed: str) -> bool:
    return isinstance(rec, Mapping) and rec.get("schema") == schema and all(isinstance(rec.get(k), str) for k in needed)


def _seen(ids: set[str], record_id: Any) -> bool:
    """Whether this id came before (a record without one is never a duplicate)."""
    if not isinstance(record_id, str):
        return False
    if record_id in ids:
        return True
    ids.add(record_id)
    return False


def _span_seconds(span: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return int(span[:-1]) * units[span[-1]]
    except (KeyError, ValueError):
        return float("inf")
