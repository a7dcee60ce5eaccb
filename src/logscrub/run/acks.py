"""Acknowledgements of the partials topic, given in offset order.

faust commits the first run of consecutive acknowledged offsets of a partition, wherever that run
starts: a partial held unacknowledged (a time slot's events wait up to an hour for the slot to be
over) behind later ones already acknowledged would be committed past, and lost in a crash. So a
handle is acknowledged only once every earlier one of its partition is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

H = TypeVar("H")


class InOrderAcks(Generic[H]):
    """Handles by (partition, offset) as they arrive; ``done`` gives back those now acknowledgeable."""

    def __init__(self, position: Callable[[H], tuple[int, int]]) -> None:
        self._position = position
        self._pending: dict[int, dict[int, list]] = {}  # partition -> offset -> [handle, done], in arrival order

    def received(self, handle: H) -> None:
        partition, offset = self._position(handle)
        self._pending.setdefault(partition, {})[offset] = [handle, False]

    def done(self, handles: Iterable[H]) -> list[H]:
        """Mark ``handles`` done; every handle now at the head of its partition's done run, in order."""
        touched = set()
        for handle in handles:
            partition, offset = self._position(handle)
            entry = self._pending.get(partition, {}).get(offset)
            if entry is not None:
                entry[1] = True
                touched.add(partition)
        out: list[H] = []
        for partition in touched:
            queue = self._pending[partition]
            while queue:
                offset, (handle, finished) = next(iter(queue.items()))
                if not finished:
                    break
                del queue[offset]
                out.append(handle)
        return out

    def waiting(self) -> int:
        """Handles received and not acknowledged yet."""
        return sum(len(q) for q in self._pending.values())

    def forget(self, partitions: Iterable[int]) -> None:
        """Partitions another worker now owns: it replays from their committed offsets."""
        for partition in partitions:
            self._pending.pop(partition, None)


class Replaying:
    """Which partials partitions this worker is still replaying: those it was given with records
    it had not read (after a crash or a rebalance). While any is, no slot's events are written: a
    slot written before the crash has its mark further on, and a part of it written again would
    be a subset to group by. A window waits only while its own partition replays
    (``WindowOwner.hold``)."""

    def __init__(self) -> None:
        self._ends: dict[int, int | None] = {}  # partition -> end offset when first read (None: caught up)
        # Reading a partition's marks back (``restore``): its days' counts and waiting events are in
        # part, and a day's own slot written then (the log's days are over by the wall clock) would
        # be capped on part of its day. One token each, (partition, its count of revocations):
        # several can be under way (``restore``).
        self.restoring: set[tuple[int, int]] = set()

    def at(self, partition: int, offset: int, highwater: Callable[[], int | None]) -> set[int]:
        """Read ``offset`` of ``partition``; the partitions still replaying (``partitions``)."""
        if partition not in self._ends:
            self._ends[partition] = highwater()
        end = self._ends[partition]
        if end is not None and offset + 1 >= end:
            self._ends[partition] = None
        return self.partitions()

    def partitions(self) -> set[int]:
        """The partitions replaying, or whose marks are being read back."""
        return {p for p, end in self._ends.items() if end is not None} | {p for p, _ in self.restoring}

    def replaying(self) -> bool:
        return bool(self.partitions())

    def forget(self, partitions: set[int]) -> set[int]:
        for partition in partitions:
            self._ends.pop(partition, None)
        return self.partitions()


class InFlight:
    """Emissions written but not yet delivered. A worker giving partials partitions up waits for
    them first: the marks of the slots it wrote then land before the next owner reads past them,
    which would otherwise cap the slots it writes on a day missing their joins."""

    def __init__(self) -> None:
        self._n = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        self._n += 1
        self._idle.clear()

    def end(self) -> None:
        self._n -= 1
        if self._n <= 0:
            self._n = 0
            self._idle.set()

    async def settled(self, timeout: float) -> bool:
        """Whether every emission begun was delivered (or failed) within ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True
