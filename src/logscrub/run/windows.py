"""The window owner: merges the partial aggregates of the windows it owns and says when to emit them.

Pure state, no Kafka and no faust: the worker feeds it partials with an acknowledgement handle
each, writes the records of an ``Emission`` and only then acknowledges its handles, so a crash
before a window is written replays its partials to the next owner.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from logscrub.scrub.aggregate import TrafficAggregator

Ack = TypeVar("Ack")


@dataclass
class Emission(Generic[Ack]):
    """Records to write, and the handles of the partials to acknowledge once they are written."""

    records: list[dict[str, Any]]
    acks: list[Ack] = field(default_factory=list)
    window_ends: list[int] = field(default_factory=list)


class WindowOwner(Generic[Ack]):
    """Windows keyed by (site, window start); ``idle_s``: emit a window no partial reached for that long."""

    def __init__(self, aggregator: TrafficAggregator, idle_s: float) -> None:
        self.aggregator = aggregator
        self.idle_s = idle_s
        self._waiting: dict[tuple[str, int], list[tuple[int, Ack]]] = defaultdict(list)

    def merge(self, partial: dict[str, Any], ack: Ack, partition: int, now: float) -> Emission[Ack] | None:
        """Add one partial (from partition ``partition`` of the partials topic); what is due now, if any."""
        self.aggregator.merge_partial(partial, now)
        self._waiting[(str(partial["site"]), int(partial["window"]))].append((partition, ack))
        return self._emission(self.aggregator.close_due())

    def idle(self, now: float) -> Emission[Ack] | None:
        """Windows no partial reached for ``idle_s`` (quiet sites, the end of a stream)."""
        return self._emission(self.aggregator.close_idle(now, self.idle_s))

    def revoke(self, partitions: set[int]) -> None:
        """Forget the windows of partitions another worker now owns: it rebuilds them from the
        partials this one never acknowledged."""
        for wkey in [w for w, acks in self._waiting.items() if acks and acks[0][0] in partitions]:
            del self._waiting[wkey]
            self.aggregator.discard(wkey)

    def _emission(self, records: list[dict[str, Any]]) -> Emission[Ack] | None:
        if not records:
            return None
        closed = self.aggregator.last_closed
        acks = [ack for wkey in closed for _, ack in self._waiting.pop(wkey, ())]
        return Emission(records, acks, [start + self.aggregator.window for _, start in closed])
