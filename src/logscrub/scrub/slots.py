"""Events held until their time slot is over, then written together in random order.

An event's published time is its slot (``events.time_granularity``); invariant 2 keeps every
(client fields, slot) group from holding two events of one client alone. Written as they were
processed, their order in the topic would be a finer clock than the slot (on a quiet stream each
record is one line, in log order): so the window owner of a site's day holds the events of each
slot, from every worker, and writes them all at once, shuffled, when the slot is over. Pure state:
each held partial comes with an acknowledgement handle, given back on release.

The owner sees every event of a site's day, from all workers, so it checks the join rule once more
as it writes them (``Groups``): workers share their counts through a topic a second late, and two
of them could each let one event of a client into a group they both thought empty (measured: 12.8%
of events linked with two workers reading one old log whose lines were not keyed by client). An
event the check refuses, and a replayed line's second copy, are not written (counted withheld).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

EVENTS = "events"  # the ``span`` of a partial carrying events rather than aggregate buckets
CHUNK = 1000  # events per partial record: well under Kafka's 1 MB default record size

Ack = TypeVar("Ack")
_shuffle = random.Random(os.urandom(32)).shuffle  # seeded from the OS once: unpredictable from outside


# The fields an event describes its client by (docs/privacy.md, invariant 2); ``client`` is left
# out: where it is published (``events.client``), the operator accepted that it links.
CLIENT_FIELDS = ("site", "browser", "browser_major", "os", "os_major", "device", "bot", "country", "asn", "as_org",
                 "protocol")  # fmt: skip
_SHARED = object()  # a day's group that holds two clients' events: open to anyone


def event_partials(held: dict[tuple[str, int], tuple[list[dict[str, Any]], list[int]]]) -> list[dict[str, Any]]:
    """Events (and their clients' keyed hashes) by (site, slot start) as partial records for the
    site's window owner (``owner_key``)."""
    return [
        {"site": site, "span": EVENTS, "window": start, "events": events[i : i + CHUNK],
         "clients": clients[i : i + CHUNK]}
        for (site, start), (events, clients) in held.items()
        for i in range(0, len(events), CHUNK)
    ]  # fmt: skip


class Groups:
    """The join rule checked on what is written: a group of events showing the same client fields
    holds at most one event of a client it holds alone, within a slot and within the day."""

    def __init__(self) -> None:
        self._days: dict[tuple[str, int], dict[tuple[Any, ...], Any]] = {}  # (site, day) -> group -> client
        self.refused = 0

    def admit(self, site: str, start: int, events: list[dict[str, Any]], clients: list[int]) -> list[dict[str, Any]]:
        """The events of slot ``start`` that may be written: one copy of each line, and no group
        left to one client with two events."""
        day = self._days.get((site, start // 86400))
        if day is None:
            day = self._days[(site, start // 86400)] = {}
            while len(self._days) > 4:  # a day stays while its late slots may still come
                del self._days[min(self._days, key=lambda k: k[1])]
        groups: dict[tuple[Any, ...], list[tuple[dict[str, Any], int]]] = {}
        ids: set[Any] = set()
        for event, client in zip(events, clients):
            eid = event.get("id")
            if eid is not None:
                if eid in ids:
                    self.refused += 1  # a replayed line's second copy
                    continue
                ids.add(eid)
            groups.setdefault(tuple(event.get(f) for f in CLIENT_FIELDS), []).append((event, client))
        kept: list[dict[str, Any]] = []
        for group, members in groups.items():
            first = members[0][1]
            if any(client != first for _, client in members[1:]):
                day[group] = _SHARED
                kept += [event for event, _ in members]
                continue
            alone = day.get(group)
            if alone == first:  # the day's group holds this client alone already
                self.refused += len(members)
                continue
            day[group] = first if alone is None else _SHARED
            kept.append(members[0][0])  # one client's events alone in the slot: one of them
            self.refused += len(members) - 1
        return kept


class EventSlots(Generic[Ack]):
    """The held events of the slots not over yet, by (site, slot start)."""

    def __init__(self, span: int) -> None:
        self.span = span
        self.held = 0  # events held now, for the held-events gauge
        self.late = 0  # events that reached a slot already written: sealed, not published
        self.groups = Groups()  # the join rule, checked again on what is written (``refused`` counts)
        self._events: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._clients: dict[tuple[str, int], list[Any]] = {}
        self._acks: dict[tuple[str, int], list[tuple[int, Ack]]] = {}  # (partials partition, handle)
        self._touched: dict[tuple[str, int], float] = {}
        self._released: dict[tuple[str, int], None] = {}
        self._released_before = 0

    def add(self, p: dict[str, Any], ack: Ack, partition: int, now: float) -> bool:
        """Hold a partial's events; False when its slot was written already (its events are dropped:
        a second block of one slot would be a subset an analyst could group by)."""
        key = (str(p["site"]), int(p["window"]))
        if key in self._released or key[1] < self._released_before:
            self.late += len(p["events"])
            return False
        self._events.setdefault(key, []).extend(p["events"])
        # A partial of an older worker has no clients: each event then counts as a client of its own.
        self._clients.setdefault(key, []).extend(p.get("clients") or [object() for _ in p["events"]])
        self._acks.setdefault(key, []).append((partition, ack))
        self._touched[key] = now
        self.held += len(p["events"])
        return True

    def due(self, watermark: int) -> list[tuple[str, int]]:
        """The slots event time has passed."""
        return [key for key in self._events if key[1] + self.span <= watermark]

    def idle(self, now: float, idle_s: float, wall: float, lateness: float) -> list[tuple[str, int]]:
        """The slots no partial reached for ``idle_s`` (a quiet site, the end of a stream), once they
        are over by the wall clock too: a pause of the stream (a restart, a quiet night) must not
        write the hour in progress, whose later events would then be dropped as late."""
        return [
            key for key in self._events
            if now - self._touched[key] >= idle_s and key[1] + self.span + lateness <= wall
        ]  # fmt: skip

    def written(self, key: tuple[str, int]) -> list[Ack]:
        """A slot some owner wrote already (its mark, replayed after a crash or a rebalance): drop what
        is held of it, never write it twice (a second block would be a subset to group by)."""
        self.held -= len(self._events.pop(key, ()))
        self._clients.pop(key, None)
        acks = [ack for _, ack in self._acks.pop(key, ())]
        self._touched.pop(key, None)
        self._released[key] = None
        return acks

    def release(self, keys: Iterable[tuple[str, int]]) -> tuple[list[dict[str, Any]], list[int], list[Ack]]:
        """The events of these slots, each slot's shuffled, with their timestamps (ms) and acks."""
        events: list[dict[str, Any]] = []
        stamps: list[int] = []
        acks: list[Ack] = []
        for key in sorted(keys, key=lambda k: (k[1], k[0])):
            made = self._events.pop(key)
            slot = self.groups.admit(key[0], key[1], made, self._clients.pop(key))
            _shuffle(slot)
            events += slot
            stamps += [key[1] * 1000] * len(slot)
            acks += [ack for _, ack in self._acks.pop(key)]
            del self._touched[key]
            self.held -= len(made)
            self._released[key] = None
        while len(self._released) > 100_000:  # remembered to tell a late partial from a new slot
            oldest = next(iter(self._released))
            del self._released[oldest]
            self._released_before = max(self._released_before, oldest[1] + self.span)
        return events, stamps, acks

    def discard(self, key: tuple[str, int]) -> None:
        """Forget a slot another owner now rebuilds (from the partials this one never acknowledged)."""
        self.held -= len(self._events.pop(key, ()))
        self._clients.pop(key, None)
        self._acks.pop(key, None)
        self._touched.pop(key, None)

    def keys(self) -> list[tuple[str, int]]:
        return list(self._events)

    def fed_from(self, partitions: set[int]) -> list[tuple[str, int]]:
        """The slots whose partials came from these partitions of the partials topic."""
        return [key for key, acks in self._acks.items() if acks and acks[0][0] in partitions]
