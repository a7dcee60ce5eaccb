"""Records for the partials and vocabulary topics stay under Kafka's record size, and split ones
merge to what the whole would have."""

from __future__ import annotations

import orjson

from logscrub.scrub.aggregate import Closed, TrafficAggregator, wire
from logscrub.scrub.record_size import MAX_RECORD_BYTES, partial_records, sightings_records
from logscrub.scrub.vocabulary import Vocabulary
from test_aggregate import _comparable, bucket_of

KAFKA_DEFAULT = 1_048_576  # producer max.request.size


def _day_of(records: list[bytes]) -> dict:
    day = TrafficAggregator(86400, 5, ("path",), 0, rollup=True)
    for r in records:
        day.merge_partial(orjson.loads(r), 0.0)
    return {key: _comparable(b) for c in day.flush() for key, b in c.buckets.items()}


def test_a_busy_hours_roll_up_into_its_day_goes_in_records_that_merge_to_the_whole():
    """The worker stopped on this one (bench-rss, 1M visitors a day): an hour's buckets, each with a
    sketch of its visitors and one of those its minutes published, rolled into its day as one
    record of 1.25 MB. Here 100 paths of 2,000 visitors, published."""
    buckets = {("path", f"/p{i}"): bucket_of(range(i * 2000, (i + 1) * 2000)) for i in range(100)}
    for b in buckets.values():
        b.cover()
    rolled = wire(Closed("s", 3600, 0, buckets).rolled_into(86400))
    whole = orjson.dumps(rolled)
    assert len(whole) > KAFKA_DEFAULT

    records = partial_records(rolled)
    assert len(records) > 2 and all(len(r) <= MAX_RECORD_BYTES for r in records)
    parts = [orjson.loads(r) for r in records]
    fields = {k: v for k, v in rolled.items() if k != "buckets"}
    assert all({k: v for k, v in p.items() if k != "buckets"} == {**fields, "upto": 0, "more": True} for p in parts[:-1])
    assert {k: v for k, v in parts[-1].items() if k != "buckets"} == fields
    assert sorted(tuple(b[:2]) for p in parts for b in p["buckets"]) == sorted(tuple(b[:2]) for b in rolled["buckets"])
    assert _day_of(records) == _day_of([whole])


def test_a_partial_under_the_size_is_one_record_as_before():
    rolled = wire(Closed("s", 60, 0, {("path", "/a"): bucket_of(range(10))}).rolled_into(3600))
    assert partial_records(rolled) == [orjson.dumps(rolled)]


def test_held_events_split_with_their_clients_in_step():
    events = [{"path": f"/{i}" + "x" * 200, "time": "2026-11-28T10:00:00Z"} for i in range(300)]
    p = {"site": "s", "span": 3600, "window": 36000, "events": events, "clients": list(range(300))}
    records = [orjson.loads(r) for r in partial_records(p, limit=20_000)]
    assert len(records) > 1 and all(len(orjson.dumps(r)) <= 20_000 for r in records)
    assert [e for r in records for e in r["events"]] == events
    assert [c for r in records for c in r["clients"]] == list(range(300))
    assert all(len(r["events"]) == len(r["clients"]) and r["window"] == 36000 for r in records)


def test_sightings_split_into_whole_pairs_and_merge_to_the_same_counts():
    """A batch of new clients each showing values nobody else had: one record would pass the size."""
    pairs = [v for i in range(60_000) for v in (10**18 + i % 20_000, 2 * 10**18 + i)]
    joins = [v for i in range(30_000) for v in (3 * 10**18 + i % 10_000, 2 * 10**18 + i)]
    record = {"kid": "visitor-20261128T000000-ab12cd34", "s": pairs, "g": joins}
    assert len(orjson.dumps(record)) > KAFKA_DEFAULT

    records = sightings_records(record)
    assert len(records) > 2 and all(len(r) <= MAX_RECORD_BYTES for r in records)
    assert all(len(orjson.loads(r).get(f, ())) % 2 == 0 for r in records for f in ("s", "g"))
    whole, split = Vocabulary(3), Vocabulary(3)
    whole.merge(record)
    for r in records:
        split.merge(orjson.loads(r))
    (w,), (s,) = whole._days.values(), split._days.values()
    assert (s.published, s.counting, s.alone, s.shared) == (w.published, w.counting, w.alone, w.shared)
    assert len(w.published) == 20_000 and len(w.shared) == 10_000


def test_a_rollup_in_parts_closes_its_window_with_the_last_part_not_the_first():
    """A rollup's owner closes the window its partial's ``upto`` reaches when it merges it: the day's
    last hour, in parts that each said so, closed the day with the first and made the rest late."""
    buckets = {("path", f"/p{i}"): bucket_of(range(i * 2000, (i + 1) * 2000)) for i in range(100)}
    last_hour = wire(Closed("s", 3600, 82800, buckets).rolled_into(86400))
    assert last_hour["upto"] == 86400
    parts = [orjson.loads(r) for r in partial_records(last_hour)]
    day = TrafficAggregator(86400, 5, ("path",), 0, rollup=True)
    for p in parts[:-1]:
        day.merge_partial(p, 0.0)
        assert day.close_due() == []
    day.merge_partial(parts[-1], 0.0)
    (closed,) = day.close_due()
    assert len(closed.buckets) == len(buckets)


def test_an_owner_whose_watermark_is_past_a_window_publishes_it_from_every_part_of_a_partial():
    """Helper's review of 66dc60f: site a's day moved the partition's watermark past the day's end, so
    site x's day closed on the first part of its last hour (15 of 31 records) and the rest was late."""
    from logscrub.scrub.windows import WindowOwner

    owner = WindowOwner([TrafficAggregator(60, 5, ("path",), 0), TrafficAggregator(3600, 5, ("path",), 0, rollup=True),
                         TrafficAggregator(86400, 5, ("path",), 0, rollup=True)], 5.0)
    a = {("total", ""): bucket_of(range(100)), ("path", "/a"): bucket_of(range(100))}
    x = {("total", ""): bucket_of(range(5000)), **{("path", f"/x{i}"): bucket_of(range(i * 100, (i + 1) * 100))
                                                  for i in range(50)}}
    out = owner.merge(wire(Closed("a", 3600, 82800, a).rolled_into(86400)), "a", 0, 0.0, 1)
    assert out.windows == [(2, "a", 0)]  # a's day is out: the watermark is past the day's end

    parts = [orjson.loads(r) for r in partial_records(wire(Closed("x", 3600, 82800, x).rolled_into(86400)), 20_000)]
    assert len(parts) > 2
    records = []
    for offset, p in enumerate(parts, start=2):
        e = owner.merge(p, f"x{offset}", 0, 0.0, offset)
        assert e.forward == [] and e.windows == ([(2, "x", 0)] if p is parts[-1] else [])
        records += e.records
    assert {r["value"] for r in records if r["dimension"] == "path"} == {f"/x{i}" for i in range(50)}


def test_late_parts_passed_on_let_the_next_span_close_once_all_have_come():
    """Review of 24c6ddb: each late part passed on counted as a partial on its way to the day, and
    only the last counted back: the day waited for ever (until a restart)."""
    from logscrub.scrub.windows import WindowOwner

    owner = WindowOwner([TrafficAggregator(60, 5, ("path",), 0), TrafficAggregator(3600, 5, ("path",), 0, rollup=True),
                         TrafficAggregator(86400, 5, ("path",), 0, rollup=True)], 5.0)
    hour = {("total", ""): bucket_of(range(100)), ("path", "/a"): bucket_of(range(100))}
    out = owner.merge(wire(Closed("x", 60, 3540, hour).rolled_into(3600)), "m", 0, 0.0, 1)
    assert out.windows == [(1, "x", 0)]  # the hour is out
    for p in out.forward:
        owner.merge(orjson.loads(orjson.dumps(wire(p))), "h", 0, 0.0, 2)
    late = {("total", ""): bucket_of(range(200, 300)), **{("path", f"/l{i}"): bucket_of(range(i * 100, (i + 1) * 100))
                                                         for i in range(30)}}
    parts = [orjson.loads(r) for r in partial_records(wire(Closed("x", 60, 3540, late).rolled_into(3600)), 5_000)]
    assert len(parts) > 1 and parts[0]["more"] is True
    offset = 3
    for p in parts:
        e = owner.merge(p, f"late{offset}", 0, 0.0, offset)
        for f in e.forward:  # passed on to the day, as the emitter would
            offset += 1
            owner.merge(orjson.loads(orjson.dumps(wire(f))), f"fwd{offset}", 0, 0.0, offset)
        offset += 1
    assert (2, "x", 0) in owner.idle(1e9, 1e12).windows
