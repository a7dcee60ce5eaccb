"""Tumbling-window traffic aggregates with small groups suppressed.

Distinct visitors are counted with Apache DataSketches HLL sketches over keyed
visitor hashes, so partial windows from several workers (or several runs)
merge exactly as sets would; the serialized sketch ships beside the estimate
for analysts who merge windows themselves. A bucket seen by fewer than ``k``
distinct visitors is folded into ``(other)`` when its window is emitted, never
before, so suppression is decided on the whole window, not on a partial.
"""

from __future__ import annotations

import base64
from binascii import b2a_base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import datasketches

SCHEMA = "logscrub.traffic/1"
OTHER = "(other)"
TOTAL = "total"
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
LG_K = 12  # ~1.6% relative error; sketches of small buckets stay a few bytes (list mode)
_HLL_8 = datasketches.tgt_hll_type.HLL_8
_STATUS_INDEX = {c: i for i, c in enumerate(STATUS_CLASSES)}
_TOTAL_KEY = (TOTAL, "")


@dataclass(slots=True)
class AggUpdate:
    """One request's contribution; ``visitor`` is a keyed hash and stays internal."""

    site: str
    window: int
    visitor: int
    bytes: int
    status_class: str
    dims: tuple[tuple[str, str], ...]


class Bucket:
    __slots__ = ("requests", "bytes", "status", "sketch")

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        self.status = [0] * len(STATUS_CLASSES)
        self.sketch = datasketches.hll_sketch(LG_K, _HLL_8)

    def to_list(self) -> list[Any]:
        sketch = b2a_base64(self.sketch.serialize_compact(), newline=False).decode()
        return [self.requests, self.bytes, self.status, sketch]

    @classmethod
    def from_list(cls, data: list[Any]) -> Bucket:
        b = cls.__new__(cls)
        b.requests, b.bytes, b.status = int(data[0]), int(data[1]), [int(x) for x in data[2]]
        b.sketch = datasketches.hll_sketch.deserialize(base64.b64decode(data[3]))
        return b

    def merge(self, other: Bucket) -> None:
        self.merge_all((other,))

    def merge_all(self, others: Iterable[Bucket]) -> None:
        """One union for all: the same sketch as merging one by one, without a union per bucket."""
        union = datasketches.hll_union(LG_K)
        union.update(self.sketch)
        for other in others:
            self.requests += other.requests
            self.bytes += other.bytes
            self.status = [a + b for a, b in zip(self.status, other.status, strict=True)]
            union.update(other.sketch)
        self.sketch = union.get_result(_HLL_8)

    @property
    def visitors(self) -> int:
        return round(self.sketch.get_estimate())


class TrafficAggregator:
    """Per (site, window) buckets; windows close when the event-time watermark passes them."""

    def __init__(self, window: int, k: int, dimensions: Iterable[str], allowed_lateness: int) -> None:
        self.window = window
        self.k = k
        self.dimensions = tuple(dimensions)
        self.allowed_lateness = allowed_lateness
        self.max_time = 0
        self.late_reopened = 0  # updates for an already emitted window (re-emitted as a new revision)
        self.emitted = 0  # records emitted so far
        self._open: dict[tuple[str, int], dict[tuple[str, str], Bucket]] = {}
        self._touched: dict[tuple[str, int], float] = {}
        self._revisions: dict[tuple[str, int], int] = {}
        self.last_closed: list[tuple[str, int]] = []  # (site, window start) of the last emission

    def window_of(self, t: float) -> int:
        return int(t // self.window) * self.window

    def add(self, u: AggUpdate) -> None:
        wkey = (u.site, u.window)
        buckets = self._open.get(wkey)
        if buckets is None:
            buckets = self._open[wkey] = {}
            if wkey in self._revisions:
                self.late_reopened += 1
        si = _STATUS_INDEX.get(u.status_class, 5)
        nbytes = u.bytes
        visitor = u.visitor
        # Runs 7 times a line: the bucket update is written out here rather than called.
        b = buckets.get(_TOTAL_KEY)
        if b is None:
            b = buckets[_TOTAL_KEY] = Bucket()
        b.requests += 1
        b.bytes += nbytes
        b.status[si] += 1
        b.sketch.update(visitor)
        for dim in u.dims:
            b = buckets.get(dim)
            if b is None:
                b = buckets[dim] = Bucket()
            b.requests += 1
            b.bytes += nbytes
            b.status[si] += 1
            b.sketch.update(visitor)
        if u.window > self.max_time:
            self.max_time = u.window

    def drain_partials(self) -> list[dict[str, Any]]:
        """Every open window's buckets, unsuppressed, as mergeable records; the state is cleared.

        A worker sends these to the window's owner before acknowledging the lines in them, so a
        crash can never lose a line's contribution (it may count it twice, at-least-once).
        """
        out = [
            {"site": site, "window": start, "buckets": [[d, v, *b.to_list()] for (d, v), b in buckets.items()]}
            for (site, start), buckets in self._open.items()
        ]
        self._open.clear()
        return out

    def merge_partial(self, partial: dict[str, Any], now: float) -> None:
        """Add a partial from ``drain_partials`` (any worker) into this aggregator's windows."""
        wkey = (str(partial["site"]), int(partial["window"]))
        buckets = self._open.get(wkey)
        if buckets is None:
            buckets = self._open[wkey] = {}
            if wkey in self._revisions:
                self.late_reopened += 1
        for d, v, *data in partial["buckets"]:
            incoming = Bucket.from_list(data)
            b = buckets.get((d, v))
            if b is None:
                buckets[(d, v)] = incoming
            else:
                b.merge(incoming)
        self._touched[wkey] = now
        if wkey[1] > self.max_time:
            self.max_time = wkey[1]

    def close_idle(self, now: float, idle: float) -> list[dict[str, Any]]:
        """Records of windows no partial has reached for ``idle`` seconds (quiet sites, end of input)."""
        return self._emit([w for w in self._open if now - self._touched.get(w, now) >= idle])

    def close_due(self) -> list[dict[str, Any]]:
        """Records of every window that ended before the watermark."""
        watermark = self.max_time - self.allowed_lateness
        due = [w for w in self._open if w[1] + self.window <= watermark]
        return self._emit(due)

    def flush(self) -> list[dict[str, Any]]:
        """Records of every open window (end of input)."""
        return self._emit(list(self._open))

    def discard(self, wkey: tuple[str, int]) -> None:
        """Drop an open window without emitting it (its partials will be replayed elsewhere)."""
        self._open.pop(wkey, None)
        self._touched.pop(wkey, None)

    def _emit(self, keys: list[tuple[str, int]]) -> list[dict[str, Any]]:
        self.last_closed = keys
        out: list[dict[str, Any]] = []
        for wkey in sorted(keys, key=lambda w: (w[1], w[0])):
            buckets = self._open.pop(wkey)
            self._touched.pop(wkey, None)
            revision = self._revisions.get(wkey, -1) + 1
            self._revisions[wkey] = revision
            out.extend(self._records(wkey, buckets, revision))
        self._forget_old_revisions()
        self.emitted += len(out)
        return out

    def _records(self, wkey: tuple[str, int], buckets: dict[tuple[str, str], Bucket], revision: int) -> list[dict]:
        site, start = wkey
        window_start, window_end = _iso(start), _iso(start + self.window)
        small: dict[str, list[Bucket]] = {}
        kept: list[tuple[str, str, Bucket, int]] = []
        for (dim, value), b in buckets.items():
            visitors = b.visitors
            if dim == TOTAL:
                kept.append((dim, "", b, visitors))
            elif visitors < self.k:
                small.setdefault(dim, []).append(b)
            else:
                kept.append((dim, value, b, visitors))
        for dim, (other, *rest) in small.items():
            if rest:
                other.merge_all(rest)
            kept.append((dim, OTHER, other, other.visitors))
        order = {TOTAL: -1, **{d: i for i, d in enumerate(self.dimensions)}}
        kept.sort(key=lambda r: (order.get(r[0], 99), r[1] == OTHER, -r[2].requests, r[1]))
        return [
            {
                "schema": SCHEMA,
                "window_start": window_start,
                "window_end": window_end,
                "site": site,
                "revision": revision,
                "dimension": dim,
                "value": value,
                "requests": b.requests,
                "bytes": b.bytes,
                "status": dict(zip(STATUS_CLASSES, b.status, strict=True)),
                "visitors": visitors,
                "visitors_sketch": b2a_base64(b.sketch.serialize_compact(), newline=False).decode(),
            }
            for dim, value, b, visitors in kept
        ]

    def _forget_old_revisions(self) -> None:
        horizon = self.max_time - self.allowed_lateness - 100 * self.window
        if len(self._revisions) > 10_000:
            self._revisions = {w: r for w, r in self._revisions.items() if w[1] >= horizon}


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
