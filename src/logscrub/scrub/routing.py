"""The one routing rule: which outcome of a line goes to which output, for every driver and core.

An event goes, held, to the window owner of its site's day (``slots.py``: it is written with the
rest of its time slot, shuffled, once the slot is over), its aggregate update to the traffic
aggregator and its sealed line to ``security``; a restricted or withheld line only to ``security``;
a rejected line, sealed with its reason, to ``rejected``. Sealed records are serialized here, so
drivers only move bytes. The compiled core serializes its records itself, byte for byte the same,
and hands over a batch at a time (``add_batch``); its held events come as JSON, read back into the
reference's dicts (the window owner checks their client fields before it writes them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

from logscrub.scrub.aggregate import TrafficAggregator
from logscrub.scrub.json_bytes import json_bytes
from logscrub.scrub.scrubber import Outcome
from logscrub.scrub.slots import event_partials, held_event

EVENTS, SECURITY, REJECTED = "events", "security", "rejected"  # output roles (TopicsConfig field names)
ROLES = (EVENTS, SECURITY, REJECTED)


class Routed:
    """The records of a batch of outcomes, by output role, with what a summary or metrics need."""

    __slots__ = (
        "records", "held", "aggregator", "newline", "lines", "events", "withheld", "restricted", "rejected",
        "latest", "_option", "_held",
    )  # fmt: skip

    def __init__(self, aggregator: TrafficAggregator, newline: bool = False, read_events: bool = True) -> None:
        """``newline``: end each record with one (JSON-lines files); Kafka values have none.
        ``read_events``: the compiled core's events are read into dicts (``HeldEvent``) for a window
        owner in this process; else they stay JSON (``orjson.Fragment``), for one behind a topic."""
        self.records: dict[str, list[bytes]] = {SECURITY: [], REJECTED: []}
        # (site, slot start) -> its events and, for the owner's check, each one's client (a keyed hash)
        self.held: dict[tuple[str, int], tuple[list[dict[str, Any]], list[int]]] = {}
        self.aggregator = aggregator
        self.newline = newline
        self.lines = 0
        self.events = 0
        self.withheld = 0  # lines sealed only: their event would have followed a client
        self.restricted = 0
        self.rejected: Counter[str] = Counter()
        self.latest = -1  # the latest window start of an event so far: where event time is
        self._option = orjson.OPT_APPEND_NEWLINE if newline else None
        self._held: Callable[[bytes], Any] = held_event if read_events else orjson.Fragment

    def add(self, o: Outcome) -> None:
        self.lines += 1
        dumps, option = json_bytes, self._option
        if o.event is not None:
            u = o.update
            assert u is not None and o.timestamp_ms is not None
            # By the site the event shows: the last resort's, (rare), one owner for every site's, whose
            # share cap then covers a client's events on several sites (red-team round 11, F2).
            slot = (o.event["site"], o.timestamp_ms // 1000)
            held = self.held.get(slot)
            if held is None:
                held = self.held[slot] = ([], [])
            held[0].append(o.event)
            held[1].append(u.client)
            self.records[SECURITY].append(dumps(o.sealed, option=option))
            self.aggregator.add(u)
            self.events += 1
            if u.window > self.latest:
                self.latest = u.window
        elif o.withheld:
            self.records[SECURITY].append(dumps(o.sealed, option=option))
            self.withheld += 1
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
        self.withheld += batch.withheld
        self.restricted += batch.restricted
        events = 0
        for site, start, serialized, clients in batch.held:  # (site, slot start) in order of first sight
            held = self.held.get((site, start))
            if held is None:
                held = self.held[(site, start)] = ([], [])
            held[0].extend(map(self._held, serialized))
            held[1].extend(clients)
            events += len(serialized)
        self.events += events
        self.records[SECURITY] += batch.sealed
        self.records[REJECTED] += batch.rejected
        for reason, n in batch.reasons:  # in order of first sight, as a line at a time counts them
            self.rejected[reason] += n
        self.aggregator.add_sums(batch.sums)
        if batch.latest > self.latest:
            self.latest = batch.latest

    def take(self) -> tuple[dict[str, list[bytes]], list[dict[str, Any]]]:
        """The sealed records so far by role, and the events as partials for their window owners;
        the batch starts over empty (the counts keep running)."""
        records, held = self.records, self.held
        self.records = {SECURITY: [], REJECTED: []}
        self.held = {}
        return records, event_partials(held)
