"""Records for the workers' own topics (partials, vocabulary), each under Kafka's record size.

A window owner merges partials bucket by bucket and takes a slot's events record by record, and a
worker merges sightings pair by pair, so a record split over several merges to the same state as
the whole; the parts of a window's partial but the last say ``more``, and the owner closes no
window on those (a window closed between two parts would publish part of one). Unsplit, a busy
hour's roll-up into its day (180 buckets of two HLL sketches each, 1.25 MB) passed the producer's
and the broker's 1 MB default, and the worker stopped on it at every restart; a batch of 5,000 new
clients each showing values nobody else had could do the same with its sightings.

A raw batch's sums for a minute are not split: a crash between two parts could leave the minute
published with some of the batch's values and not its total, a difference resting on fewer than k
clients (rollups publish distinct visitors only, which no such difference gives away). A scanner's
5,000 distinct long paths in one minute still make one over 1 MB (an open gap: taking a batch's sums
early, whole, made windows close on their first part before an owner's first heartbeat).
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_RECORD_BYTES = 512 * 1024  # half of Kafka's default (producer max.request.size, broker message.max.bytes)
_PARTIAL_LISTS = (("buckets",), ("events", "clients"))  # what a partial may be split along, lists in step


def partial_records(p: dict[str, Any], limit: int = MAX_RECORD_BYTES) -> list[bytes]:
    """``p`` (``wire`` form: buckets as lists) as one record, or over several, each with part of its
    buckets or of its events, and its other fields."""
    whole = orjson.dumps(p)
    if len(whole) <= limit:
        return [whole]
    along = next((f for f in _PARTIAL_LISTS if isinstance(p.get(f[0]), list)), ())
    parts = _parts(p, along, 1, limit)
    if "buckets" in p:
        # A window's owner closes no window on a part that says ``more``, and only the last part
        # says how far event time got (a rollup's ``upto``): the window waits for the whole.
        parts = [{**part, "upto": p["window"], "more": True} for part in parts[:-1]] + parts[-1:]
    return [orjson.dumps(part) for part in parts]


def sightings_records(s: dict[str, Any], limit: int = MAX_RECORD_BYTES) -> list[bytes]:
    """A ``Vocabulary.take_sightings`` record as one record, or as several, each with part of its
    value sightings or of its group joins (pairs kept whole)."""
    whole = orjson.dumps(s)
    if len(whole) <= limit:
        return [whole]
    rest = {k: v for k, v in s.items() if k not in ("s", "g")}
    parts = _parts({**rest, "s": s.get("s") or []}, ("s",), 2, limit) + _parts({**rest, "g": s.get("g") or []}, ("g",), 2, limit)
    return [orjson.dumps(part) for part in parts]


def _parts(record: dict[str, Any], along: tuple[str, ...], unit: int, limit: int) -> list[dict[str, Any]]:
    """``record``, halved along the lists ``along`` (cut in step, at a multiple of ``unit``) until
    each part is under ``limit`` or holds one unit."""
    if not along or len(record[along[0]]) < 2 * unit or len(orjson.dumps(record)) <= limit:
        return [record]  # nothing to split: should the broker refuse it, the worker names the topic and stops
    half = len(record[along[0]]) // (2 * unit) * unit
    return (_parts({**record, **{f: record[f][:half] for f in along}}, along, unit, limit)
            + _parts({**record, **{f: record[f][half:] for f in along}}, along, unit, limit))  # fmt: skip
