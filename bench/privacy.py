"""Linkability of published events (privacy invariant 2), measured from records and ground truth.

Invariant 2 is measured, not asserted: group the events of each UTC day by every published
field that describes the client rather than the request, and group them again by those fields and
their published time; an event is *linked* when one of its groups holds two or more events that
all come from one client (a session's requests share their minute: red-team round 2). These are pure functions over plain
dicts, so they measure any version of the event schema, from files, topics or a test, and know
nothing of how logscrub built the records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

# The fields of an analytics.events record that describe the client (invariant 2); an absent
# field counts as null, so a schema that stops publishing one is measured without it.
CLIENT_FIELDS: tuple[str, ...] = (
    "client", "site", "browser", "browser_major", "os", "os_major", "device", "bot", "country", "asn", "as_org",
    "protocol",
)
PLACEHOLDERS: tuple[str, ...] = ("(rare)",)
# Request fields an analyst can split a group of client fields by (red-team round 3: a client's
# trail plus one decoy event, split by its referrer or its section, was that client's alone).
REQUEST_SPLITS: dict[str, tuple[str, ...]] = {
    "referrer": ("referrer_domain", "referrer_class"), "status class": ("status_class",), "method": ("method",),
    "section": ("section",),  # the path's first segment: a page or an asset, the blog or the shop
}
# Fewer client fields an analyst can group by (red-team round 5: a client alone got one event per
# description level, each showing its browser: grouped by browser per hour, 6.9% were one client's).
FIELD_SETS: dict[str, tuple[str, ...]] = {
    "browser": ("site", "browser"), "os": ("site", "os"), "device": ("site", "device", "bot"),
    "browser, os, device": ("site", "browser", "os", "device", "bot"), "country": ("site", "country"),
    "network": ("site", "asn", "as_org"),
    "no versions": ("site", "browser", "os", "device", "bot", "country", "asn", "as_org"),
}


@dataclass(frozen=True, slots=True)
class Figures:
    """What an analyst could follow, and what the records still tell. Shares are of ``events``."""

    events: int
    linked: float  # share of events in a group of >= 2 events that all come from one client
    linked_without_client: float  # the same with the ``client`` field left out of the grouping
    path_kept: float  # share whose path is a real value (a {...} template counts; null, "" and placeholders do not)
    browser_kept: float  # share whose browser is a real value (not null, "" or a placeholder)
    smallest_group: int  # fewest distinct clients behind one group of all client fields (0 without events)
    groups: int  # (day, client fields) groups
    dominated: float = 0.0  # share in a group of >= 2 events where one client sent more than half
    linked_by_request: float = 0.0  # linked once the groups are split by one request field too (the worst)
    worst_split: str = ""  # that request field
    linked_by_fewer: float = 0.0  # linked grouping by fewer client fields (FIELD_SETS), split or not: the worst
    worst_fewer: str = ""  # those fields, and the split
    by_day: float = 0.0  # share published with their day only (``span`` 1d): over their hour's share cap

    def render(self) -> str:
        """One line for reports and test failures."""
        return (
            f"{self.events} events: linked {self.linked:.1%}, without client {self.linked_without_client:.1%}, "
            f"path kept {self.path_kept:.1%}, browser kept {self.browser_kept:.1%}, "
            f"smallest group {self.smallest_group} client(s) of {self.groups} groups, "
            f"dominated {self.dominated:.1%}, split by {self.worst_split or 'a request field'} {self.linked_by_request:.1%}, "
            f"by fewer fields ({self.worst_fewer or 'none'}) {self.linked_by_fewer:.1%}, "
            f"published by the day {self.by_day:.1%}"
        )


def linkability(
    events: Sequence[Mapping[str, Any]],
    clients: Sequence[Hashable],
    placeholders: Iterable[str] = PLACEHOLDERS,
    fields: Sequence[str] = CLIENT_FIELDS,
    by_time: bool = True,
) -> Figures:
    """Invariant 2's figures for ``events``, where ``clients[i]`` is who really sent ``events[i]``.

    ``clients`` are normally the full client addresses (the invariant's definition); visitor ids
    from a generator's ground truth measure the stricter "one person" variant, which also counts a
    visitor whose address changes within a group. Days are the UTC day of each event's ``time``;
    ``by_time=False`` groups by day only, as issue 11 measured the real log (79%, 15% without client).
    """
    if len(events) != len(clients):
        raise ValueError(f"{len(events)} events but {len(clients)} clients: they must pair up one to one")
    marks = frozenset(placeholders)
    without = tuple(f for f in fields if f != "client")
    days = [_day(e.get("time")) for e in events]
    times = [e.get("time") for e in events] if by_time else days
    by_day, smallest, groups = _linked(events, clients, days, tuple(fields))
    in_slot, _, _ = _linked(events, clients, times, tuple(fields))
    linked = len(by_day | in_slot)
    linked_without = len(_linked(events, clients, days, without)[0] | _linked(events, clients, times, without)[0])
    dominated = _dominated(events, clients, days, tuple(fields)) | _dominated(events, clients, times, tuple(fields))
    splits = {name: _split(events, clients, days, times, tuple(fields), extra) for name, extra in REQUEST_SPLITS.items()}
    worst = max(splits, key=lambda name: splits[name]) if events else ""
    fewer = {f"{fields_name}{', split by ' + name if name else ''}": _split(events, clients, days, times, subset, extra)
             for fields_name, subset in FIELD_SETS.items() for name, extra in (("", ()), *REQUEST_SPLITS.items())}
    worst_fewer = max(fewer, key=lambda name: fewer[name]) if events else ""
    n = len(events)
    path_kept = sum(1 for e in events if _real(e.get("path"), marks))
    browser_kept = sum(1 for e in events if _real(e.get("browser"), marks))
    return Figures(
        events=n,
        linked=_share(linked, n),
        linked_without_client=_share(linked_without, n),
        path_kept=_share(path_kept, n),
        browser_kept=_share(browser_kept, n),
        smallest_group=smallest,
        groups=groups,
        dominated=_share(len(dominated), n),
        linked_by_request=_share(splits[worst], n) if worst else 0.0,
        worst_split=worst,
        linked_by_fewer=_share(fewer[worst_fewer], n) if worst_fewer else 0.0,
        worst_fewer=worst_fewer,
        by_day=_share(sum(1 for e in events if e.get("span") == "1d"), n),
    )


def linked_events(
    events: Sequence[Mapping[str, Any]], clients: Sequence[Hashable], fields: Sequence[str] = CLIENT_FIELDS
) -> list[int]:
    """Indexes of the linked events: for looking at *what* links, not only how much."""
    if len(events) != len(clients):
        raise ValueError(f"{len(events)} events but {len(clients)} clients: they must pair up one to one")
    days = [_day(e.get("time")) for e in events]
    times = [e.get("time") for e in events]
    return sorted(_linked(events, clients, days, tuple(fields))[0] | _linked(events, clients, times, tuple(fields))[0])


def _linked(
    events: Sequence[Mapping[str, Any]], clients: Sequence[Hashable], periods: Sequence[Any], fields: tuple[str, ...]
) -> tuple[set[int], int, int]:
    """(the linked events' indexes, fewest distinct clients in a group, number of groups), grouping
    by ``periods[i]`` (a day, or the published time) and the fields."""
    members: dict[tuple[Any, ...], list[int]] = {}
    for i, (e, period) in enumerate(zip(events, periods, strict=True)):
        members.setdefault((period, *(e.get(f) for f in fields)), []).append(i)
    linked = {i for group in members.values() if _is_linked(group, clients) for i in group}
    smallest = min((len({clients[i] for i in g}) for g in members.values()), default=0)
    return linked, smallest, len(members)


def _dominated(
    events: Sequence[Mapping[str, Any]], clients: Sequence[Hashable], periods: Sequence[Any], fields: tuple[str, ...]
) -> set[int]:
    """The events in a group (by period and fields) of two or more where one client sent more than half."""
    members: dict[tuple[Any, ...], list[int]] = {}
    for i, (e, period) in enumerate(zip(events, periods, strict=True)):
        members.setdefault((period, *(e.get(f) for f in fields)), []).append(i)
    out: set[int] = set()
    for group in members.values():
        if len(group) >= 2:
            top = max(Counter(clients[i] for i in group).values())
            if 2 * top > len(group):
                out.update(group)
    return out


def _split(
    events: Sequence[Mapping[str, Any]], clients: Sequence[Hashable], days: Sequence[Any], times: Sequence[Any],
    fields: tuple[str, ...], extra: tuple[str, ...],
) -> int:
    """How many events are linked once grouped by one request field too, by day or published time."""
    split = [{**e, "section": _section(e.get("path"))} for e in events] if "section" in extra else events
    keys = (*fields, *extra)
    return len(_linked(split, clients, days, keys)[0] | _linked(split, clients, times, keys)[0])


def _section(path: Any) -> Any:
    """A path's first segment (``/blog/{id}`` -> ``blog``); a placeholder or null as it is."""
    if not isinstance(path, str) or not path.startswith("/"):
        return path
    return path[1:].split("/", 1)[0]


def _is_linked(group: list[int], clients: Sequence[Hashable]) -> bool:
    return len(group) >= 2 and len({clients[i] for i in group}) == 1


def _real(value: Any, placeholders: frozenset[str]) -> bool:
    return value is not None and value != "" and not (isinstance(value, str) and value in placeholders)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


_DAYS: dict[Any, date | None] = {}


def _day(time: Any) -> date | None:
    """The UTC day of an event's ``time``: ISO-8601 text (naive means UTC) or epoch seconds/ms."""
    if isinstance(time, str):
        day = _DAYS.get(time)
        if day is None and time not in _DAYS:
            if len(_DAYS) > 100_000:
                _DAYS.clear()
            day = _DAYS[time] = _parse_day(time)
        return day
    if isinstance(time, bool) or not isinstance(time, int | float):
        return None
    seconds = time / 1000 if abs(time) > 1e11 else time  # epoch milliseconds, as Kafka timestamps are
    return datetime.fromtimestamp(seconds, UTC).date()


def _parse_day(text: str) -> date | None:
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return (t.astimezone(UTC) if t.tzinfo is not None else t).date()
