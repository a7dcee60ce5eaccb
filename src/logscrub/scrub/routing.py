"""The one routing rule: which outcome of a line goes to which output, for every driver and core.

An event goes to ``events`` (and its aggregate update to the traffic aggregator) with its sealed
line to ``security``; a restricted client's line only to ``security``; a withheld event's line to
``security`` and its update to the aggregator; a rejected line, sealed with its reason, to
``rejected``. Records are serialized here (the compiled core serializes them itself, byte for byte
the same, and hands over a batch at a time), so drivers only move bytes. A batch's events leave in
random order with their coarse time as timestamp (nothing ties them to raw lines): that shuffle is
one step, ``shuffle_events``, whichever core made the events.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from typing import Any

import orjson

from logscrub.scrub.aggregate import TrafficAggregator
from logscrub.scrub.scrubber import Outcome

EVENTS, SECURITY, REJECTED = "events", "security", "rejected"  # output roles (TopicsConfig field names)
ROLES = (EVENTS, SECURITY, REJECTED)


class Routed:
    """The records of a batch of outcomes, by output role, with what a summary or metrics need."""

    __slots__ = (
        "records", "stamps", "aggregator", "newline", "lines", "events", "withheld", "restricted", "rejected",
        "latest", "_option",
    )  # fmt: skip

    def __init__(self, aggregator: TrafficAggregator, newline: bool = False) -> None:
        """``newline``: end each record with one (JSON-lines files); Kafka values have none."""
        self.records: dict[str, list[bytes]] = {role: [] for role in ROLES}
        self.stamps: list[int | None] = []  # each event's coarse time (ms), for its record's timestamp
        self.aggregator = aggregator
        self.newline = newline
        self.lines = 0
        self.events = 0
        self.withheld = 0  # lines counted in aggregates whose event would have followed a client
        self.restricted = 0
        self.rejected: Counter[str] = Counter()
        self.latest = -1  # the latest window start of an event so far: where event time is
        self._option = orjson.OPT_APPEND_NEWLINE if newline else None

    def add(self, o: Outcome) -> None:
        self.lines += 1
        dumps, option = orjson.dumps, self._option
        if o.update is not None:
            if o.event is not None:
                self.records[EVENTS].append(dumps(o.event, option=option))
                self.stamps.append(o.timestamp_ms)
                self.events += 1
            else:
                self.withheld += 1
            self.records[SECURITY].append(dumps(o.sealed, option=option))
            self.aggregator.add(o.update)
            if o.update.window > self.latest:
                self.latest = o.update.window
        elif o.restricted:
            self.records[SECURITY].append(dumps(o.sealed, option=option))
            self.restricted += 1
        else:
            self.records[REJECTED].append(dumps(o.sealed, option=option))
            self.rejected[o.reason] += 1  # type: ignore[index]

    def add_batch(self, batch: Any) -> None:
        """What the compiled core made of a run of lines (``logscrub._native.Batch``): the records
        ``add`` would have made of their outcomes, in line order, and their updates summed per bucket."""
        self.lines += batch.done
        self.events += len(batch.events)
        self.withheld += batch.withheld
        self.restricted += batch.restricted
        self.records[EVENTS] += batch.events
        self.stamps += batch.stamps
        self.records[SECURITY] += batch.sealed
        self.records[REJECTED] += batch.rejected
        for reason, n in batch.reasons:  # in order of first sight, as a line at a time counts them
            self.rejected[reason] += n
        self.aggregator.add_sums(batch.sums)
        if batch.latest > self.latest:
            self.latest = batch.latest

    def take(self, shuffle: bool = True) -> tuple[dict[str, list[bytes]], list[int | None]]:
        """The records so far by role and the events' timestamps, events shuffled (``shuffle``
        off: in line order, for tests comparing cores); the batch starts over empty (the counts
        keep running)."""
        records, stamps = self.records, self.stamps
        if shuffle:
            records[EVENTS], stamps = shuffle_events(records[EVENTS], stamps)
        self.records = {role: [] for role in ROLES}
        self.stamps = []
        return records, stamps


def shuffle_events(events: list[bytes], stamps: list[int | None]) -> tuple[list[bytes], list[int | None]]:
    """Events and their timestamps in one random order: output order is not raw-log order (invariant 2)."""
    order = list(range(len(events)))
    _shuffle(order)
    return [events[i] for i in order], [stamps[i] for i in order]


# Seeded from the OS once: unpredictable from the outside, without a system call per element.
_shuffle = random.Random(os.urandom(32)).shuffle
