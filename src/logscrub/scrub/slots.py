"""Events held until their time slot is over, then written together in random order.

An event's published time is its slot (``events.time_granularity``); invariant 2 keeps every
(client fields, slot) group from holding two events of one client alone. Written as they were
processed, their order in the topic would be a finer clock than the slot (on a quiet stream each
record is one line, in log order): so the window owner of a site's day holds the events of each
slot, from every worker, and writes them all at once, shuffled, when the slot is over. Pure state:
each held partial comes with an acknowledgement handle, given back on release.
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


def event_partials(held: dict[tuple[str, int], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Events by (site, slot start) as partial records for the site's window owner (``owner_key``)."""
    return [
        {"site": site, "span": EVENTS, "window": start, "events": events[i : i + CHUNK]}
        for (site, start), events in held.items()
        for i in range(0, len(events), CHUNK)
    ]


class EventSlots(Generic[Ack]):
    """The held events of the slots not over yet, by (site, slot start)."""

    def __init__(self, span: int) -> None:
        self.span = span
        self.held = 0  # events held now, for the held-events gauge
        self.late = 0  # events that reached a slot already written: sealed, not published
        self._events: dict[tuple[str, int], list[dict[str, Any]]] = {}
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
            slot = self._events.pop(key)
            _shuffle(slot)
            events += slot
            stamps += [key[1] * 1000] * len(slot)
            acks += [ack for _, ack in self._acks.pop(key)]
            del self._touched[key]
            self.held -= len(slot)
            self._released[key] = None
        while len(self._released) > 100_000:  # remembered to tell a late partial from a new slot
            oldest = next(iter(self._released))
            del self._released[oldest]
            self._released_before = max(self._released_before, oldest[1] + self.span)
        return events, stamps, acks

    def discard(self, key: tuple[str, int]) -> None:
        """Forget a slot another owner now rebuilds (from the partials this one never acknowledged)."""
        self.held -= len(self._events.pop(key, ()))
        self._acks.pop(key, None)
        self._touched.pop(key, None)

    def keys(self) -> list[tuple[str, int]]:
        return list(self._events)

    def fed_from(self, partitions: set[int]) -> list[tuple[str, int]]:
        """The slots whose partials came from these partitions of the partials topic."""
        return [key for key, acks in self._acks.items() if acks and acks[0][0] in partitions]
