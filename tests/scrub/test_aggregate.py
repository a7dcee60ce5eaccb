"""Traffic aggregates: every published number, and every difference between published numbers,
rests on at least k distinct clients (invariant 7)."""

import base64
import time
from itertools import combinations

import datasketches
import orjson
import pytest

from logscrub.scrub import aggregate
from logscrub.scrub.aggregate import OTHER, AggUpdate, Bucket, TrafficAggregator, requests_in, wire
from logscrub.scrub.windows import WindowOwner


def upd(window, client, path="/", country="DE", status="2xx", nbytes=10, site="s", visitor=None):
    dims = (("path", path), ("country", country))
    return AggUpdate(site, window, client if visitor is None else visitor, client, nbytes, status, dims)


def agg(k=5, dims=("path", "country"), lateness=0, **kw):
    return TrafficAggregator(60, k, dims, lateness, **kw)


def published(a):
    return a.records(a.flush())


def by_dim(records, dim):
    return {r["value"]: r for r in records if r["dimension"] == dim}


def test_counts_and_distinct_visitors():
    a = agg(k=3)
    for v in range(10):
        a.add(upd(0, v, path="/a"))
        a.add(upd(0, v, path="/a", status="4xx"))
    recs = published(a)
    total = by_dim(recs, "total")[""]
    assert total["requests"] == 20 and total["bytes"] == 200
    assert total["status"]["2xx"] == 10 and total["status"]["4xx"] == 10
    assert total["visitors"] == 10
    assert by_dim(recs, "path")["/a"]["visitors"] == 10
    assert total["window_start"] == "1970-01-01T00:00:00Z" and total["window_end"] == "1970-01-01T00:01:00Z"
    assert total["span"] == "1m" and total["schema"] == "logscrub.traffic/2"


def test_small_buckets_fold_into_other_and_other_rests_on_k_clients():
    a = agg()
    for v in range(20):
        a.add(upd(0, v, path="/popular"))
    for v in range(100, 105):  # five clients, each on a path of their own
        a.add(upd(0, v, path=f"/rare-{v}", country="IS"))
    paths = by_dim(published(a), "path")
    assert set(paths) == {"/popular", OTHER}
    assert paths[OTHER]["requests"] == 5 and paths[OTHER]["visitors"] == 5


def test_other_under_k_takes_the_smallest_published_value_with_it():
    """total minus the published values would otherwise give (other) away."""
    a = agg()
    for v in range(20):
        a.add(upd(0, v, path="/popular"))
    for v in range(20, 26):
        a.add(upd(0, v, path="/six"))
    a.add(upd(0, 99, path="/alone"))  # one client: (other) would rest on it alone
    recs = published(a)
    paths = by_dim(recs, "path")
    assert set(paths) == {"/popular", OTHER}
    assert paths[OTHER]["requests"] == 7  # /alone and /six together
    total = by_dim(recs, "total")[""]
    assert total["requests"] - paths["/popular"]["requests"] == paths[OTHER]["requests"]


def test_no_difference_between_published_numbers_rests_on_fewer_than_k_clients():
    """Any total minus any subset of its dimension's published buckets covers k clients or none."""
    a = agg()
    clients = {}
    for v in range(40):
        path = "/a" if v < 18 else "/b" if v < 30 else f"/tail-{v % 4}"
        a.add(upd(0, v, path=path))
        clients.setdefault(path, set()).add(v)
    recs = published(a)
    paths = by_dim(recs, "path")
    total = by_dim(recs, "total")[""]["requests"]
    for n in range(len(paths) + 1):
        for subset in combinations(paths, n):
            rest = total - sum(paths[p]["requests"] for p in subset)
            assert rest == 0 or rest >= 5, (subset, rest)


def test_one_address_with_many_user_agents_counts_once():
    a = agg()
    for ua in range(5):  # five visitors (address, user agent), one client
        a.add(upd(0, client=7, visitor=ua, path="/five-agents"))
    assert published(a) == []  # the whole window rests on one client


def test_a_window_under_k_publishes_nothing_not_even_its_total():
    a = agg()
    for v in range(4):
        a.add(upd(0, v))
    assert published(a) == []
    assert a.suppressed == 3  # total, path and country


def test_a_late_partial_never_makes_a_second_record_for_a_window():
    owner = WindowOwner([agg(lateness=60), TrafficAggregator(3600, 5, ("path", "country"), 60, rollup=True)], 5.0)
    worker = agg(lateness=60)
    for v in range(10):
        worker.add(upd(0, v))
    for v in range(10):
        worker.add(upd(180, v))
    emitted = [owner.merge(p, f"ack-{i}", 0, 0.0) for i, p in enumerate(worker.drain_partials())]
    first = [r for e in emitted for r in e.records]
    assert {r["window_start"] for r in first} == {"1970-01-01T00:00:00Z"}
    for v in range(10):
        worker.add(upd(0, 100 + v))  # late: its window is out
    (late,) = worker.drain_partials()
    e = owner.merge(late, "ack-late", 0, 0.0)
    assert e.records == [] and e.acks == ["ack-late"]
    assert [p["span"] for p in e.forward] == [3600]  # the hour still counts its visitors
    assert owner.base.late == 10


def test_rollups_publish_distinct_visitors_only():
    owner = WindowOwner([agg(), TrafficAggregator(3600, 5, ("path", "country"), 0, rollup=True)], 5.0)
    for minute in range(3):
        for v in range(6):
            owner.base.add(upd(minute * 60, v + minute))  # 8 clients over the hour, 6 a minute
    records = owner.finish(now=0.0).records
    hours = [r for r in records if r["span"] == "1h"]
    minutes = [r for r in records if r["span"] == "1m"]
    assert len({r["window_start"] for r in minutes}) == 3
    assert by_dim(hours, "total")[""]["visitors"] == 8
    assert all(set(r) >= {"visitors"} and "requests" not in r and "bytes" not in r for r in hours)


def test_sketches_are_published_only_when_asked_for_and_merge_like_sets():
    assert "visitors_sketch" not in by_dim(published_many(agg()), "total")[""]
    a, b = agg(publish_sketches=True), agg(publish_sketches=True)
    for v in range(0, 600):
        a.add(upd(0, v))
    for v in range(300, 900):
        b.add(upd(0, v))
    union = datasketches.hll_union(12)
    for recs in (published(a), published(b)):
        total = by_dim(recs, "total")[""]
        union.update(datasketches.hll_sketch.deserialize(base64.b64decode(total["visitors_sketch"])))
    assert abs(union.get_result().get_estimate() - 900) < 900 * 0.05


def published_many(a):
    for v in range(50):
        a.add(upd(0, v))
    return published(a)


def test_partials_from_two_workers_equal_one_aggregator():
    """Suppression is decided on the merged window, not on each worker's share."""
    single, w1, w2 = agg(dims=("path",)), agg(dims=("path",)), agg(dims=("path",))
    owner = WindowOwner([agg(dims=("path",))], 5.0)
    for v in range(8):  # 8 clients on /split: 4 seen by each worker, each under k alone
        single.add(upd(0, v, path="/split"))
        (w1 if v % 2 else w2).add(upd(0, v, path="/split"))
    for partial in w1.drain_partials() + w2.drain_partials():
        owner.merge(partial, None, 0, 0.0)
    assert w1.drain_partials() == []
    strip = lambda recs: sorted((r["dimension"], r["value"], r["requests"], r["visitors"]) for r in recs)  # noqa: E731
    merged = owner.idle(10.0, wall=1e9).records
    assert strip(merged) == strip(published(single))
    assert ("path", "/split", 8, 8) in strip(merged)


def test_idle_windows_wait_for_the_idle_time():
    owner = WindowOwner([agg(lateness=60)], 5.0)
    w = agg(lateness=60)
    for v in range(5):
        w.add(upd(0, v))
    owner.merge(w.drain_partials()[0], "ack", 0, 100.0)
    assert not owner.idle(104.0, wall=1e9)
    emission = owner.idle(105.0, wall=1e9)
    assert emission.records and emission.acks == ["ack"]


def test_a_rollup_closes_on_idle_only_once_its_span_is_over_by_the_clock():
    hour = TrafficAggregator(3600, 5, ("path",), 0, rollup=True)
    owner = WindowOwner([agg(dims=("path",)), hour], 5.0)
    w = agg(dims=("path",))
    for v in range(5):
        w.add(upd(0, v))
    owner.merge(w.drain_partials()[0], None, 0, 0.0)
    forwarded = owner.idle(10.0, wall=100.0)  # the minute goes out; its hour takes it
    assert forwarded.records and forwarded.forward
    owner.settle(forwarded, 10.0)
    assert not owner.idle(100.0, wall=1800.0).records  # the hour is not over
    assert owner.idle(100.0, wall=3600.0).records


def bucket_of(visitors) -> Bucket:
    """A bucket as ``TrafficAggregator.add`` fills it: one request per visitor."""
    a = agg(k=5, dims=())
    for v in visitors:
        a.add(AggUpdate("s", 0, v, v, 10, "2xx", ()))
    ((_, b),) = a.flush()[0].buckets.items()
    return b


def test_folding_many_buckets_at_once_equals_folding_them_one_by_one():
    """(other) is built with one union: its sketch must be the one pairwise merges would give."""
    sizes = [1, 3, 2, 700, 4, 5000, 1, 2]  # exact sets and sketches
    parts = [range(i * 10_000, i * 10_000 + n) for i, n in enumerate(sizes)]
    one_by_one, at_once = bucket_of(parts[0]), bucket_of(parts[0])
    for p in parts[1:]:
        one_by_one.merge_all([bucket_of(p)], 5)
    at_once.merge_all([bucket_of(p) for p in parts[1:]], 5)
    assert at_once.hll().serialize_compact() == one_by_one.hll().serialize_compact()
    assert (at_once.requests, at_once.status) == (one_by_one.requests, one_by_one.status)
    assert at_once.visitors == one_by_one.visitors
    assert len(at_once.clients) == 5  # a bucket holds no more clients than k


def test_few_visitors_are_counted_exactly_and_many_estimated_the_same_whatever_the_merge_order():
    from logscrub.scrub.aggregate import SMALL

    assert bucket_of(range(SMALL)).visitors == SMALL  # an exact set: no estimate
    whole = bucket_of(range(3 * SMALL))
    halves = bucket_of(range(0, 3 * SMALL, 2))
    halves.merge_all([bucket_of(range(1, 3 * SMALL, 2))], 5)
    pieces = bucket_of(range(10))
    pieces.merge_all([bucket_of(range(i, min(i + 10, 3 * SMALL))) for i in range(10, 3 * SMALL, 10)], 5)
    assert whole.visitors == halves.visitors == pieces.visitors
    assert abs(whole.visitors - 3 * SMALL) <= 3 * SMALL * 0.05
    shipped = Bucket.from_list(bucket_of(range(5)).to_list())
    assert shipped.visitors == 5 and shipped.seen == set(range(5))


def three_spans(k=5):
    return WindowOwner([
        agg(k=k, dims=("path",)),
        TrafficAggregator(3600, k, ("path",), 0, rollup=True),
        TrafficAggregator(86400, k, ("path",), 0, rollup=True),
    ], 5.0)  # fmt: skip


def visitors_of(records, span, dim, value):
    return {r["window_start"]: r["visitors"] for r in records if (r["span"], r["dimension"], r["value"]) == (span, dim, value)}


def test_a_rollup_minus_its_published_minutes_never_counts_fewer_than_k_visitors():
    """Red-team finding: /x at 10:00 published 5 visitors; one more came at 10:30, folded into that
    minute's (other). An hour saying 6 would say one person asked for /x at 10:30."""
    owner = three_spans()
    for v in range(5):
        owner.base.add(upd(36000, v, path="/x"))
    for v in range(10, 15):
        owner.base.add(upd(37800, v, path="/y"))
    owner.base.add(upd(37800, 99, path="/x"))  # the victim, alone on /x in its minute
    records = owner.finish(now=0.0).records
    assert visitors_of(records, "1m", "path", "/x") == {"1970-01-01T10:00:00Z": 5}
    assert visitors_of(records, "1h", "path", "/x") == {"1970-01-01T10:00:00Z": 5}  # not 6
    assert visitors_of(records, "1d", "path", "/x") == {"1970-01-01T00:00:00Z": 5}
    assert visitors_of(records, "1h", "path", "/y") == {"1970-01-01T10:00:00Z": 5}  # no minute showed /y
    assert owner.levels[1].undercounted >= 1


def test_a_rollup_adds_visitors_no_minute_published_only_when_k_clients_sent_them():
    """Red-team round 2, finding 6: /x at 10:00 published 5 visitors; at 10:30 one address with five
    user agents (a household) asked for /x, folded into that minute's (other). An hour saying 10
    would say one household asked for /x at 10:30."""
    owner = three_spans()
    for v in range(5):
        owner.base.add(upd(36000, v, path="/x"))
    for v in range(10, 15):
        owner.base.add(upd(37800, v, path="/y"))
    for agent in range(5):
        owner.base.add(upd(37800, 99, path="/x", visitor=1000 + agent))
    records = owner.finish(now=0.0).records
    assert visitors_of(records, "1m", "path", "/x") == {"1970-01-01T10:00:00Z": 5}
    assert visitors_of(records, "1h", "path", "/x") == {"1970-01-01T10:00:00Z": 5}  # not 10
    assert visitors_of(records, "1d", "path", "/x") == {"1970-01-01T00:00:00Z": 5}


def test_fresh_clients_travel_with_a_partial():
    b = bucket_of(range(3))
    assert Bucket.from_list(b.to_list()).fresh_clients() == b.clients  # nothing published: all fresh
    b.cover()
    assert Bucket.from_list(b.to_list()).fresh_clients() == set()
    rolled = Bucket()
    rolled.merge_all([Bucket.from_list(b.to_list()), bucket_of(range(10, 12))], 5)
    assert Bucket.from_list(rolled.to_list()).fresh_clients() == {10, 11}


def test_a_rollup_counts_every_visitor_when_k_or_more_came_outside_its_published_minutes():
    owner = three_spans()
    for v in range(5):
        owner.base.add(upd(36000, v, path="/x"))
    for minute, v in enumerate(range(20, 25), start=1):  # five more, each alone on /x in a minute
        owner.base.add(upd(36000 + 60 * minute, v, path="/x"))
        for other in range(5):
            owner.base.add(upd(36000 + 60 * minute, 100 + other, path="/busy"))
    records = owner.finish(now=0.0).records
    assert visitors_of(records, "1h", "path", "/x") == {"1970-01-01T10:00:00Z": 10}
    assert visitors_of(records, "1d", "path", "/x") == {"1970-01-01T00:00:00Z": 10}


def test_a_day_minus_its_published_hours_never_counts_fewer_than_k_visitors():
    """Covered visitors pass on: what an hour published (or its minutes did) counts as shown for the day."""
    owner = three_spans()
    for v in range(6):  # 10:00, one visitor a minute: no minute published, the hour is
        owner.base.add(upd(36000 + 60 * v, v, path="/x"))
        owner.base.add(upd(36000 + 60 * v, 50 + v, path="/pad"))
    for v in range(30, 35):  # 14:00 publishes /pad alone; the victim is alone on /x that hour
        owner.base.add(upd(50400, v, path="/pad"))
    owner.base.add(upd(50460, 99, path="/x"))
    records = owner.finish(now=0.0).records
    assert visitors_of(records, "1h", "path", "/x") == {"1970-01-01T10:00:00Z": 6}
    assert visitors_of(records, "1d", "path", "/x") == {"1970-01-01T00:00:00Z": 6}  # not 7


def test_covered_visitors_travel_with_a_partial_as_a_set_or_a_sketch():
    from logscrub.scrub.aggregate import SMALL

    for n in (3, 4 * SMALL):
        b = bucket_of(range(n))
        b.cover()
        shipped = Bucket.from_list(b.to_list())
        assert shipped.uncovered() == 0 and shipped.covered_visitors() == b.visitors
        more = bucket_of(range(n + 7))
        more.merge_all([shipped], 5)
        assert more.uncovered() == 7 if n == 3 else abs(more.uncovered() - 7) <= 3
    assert len(bucket_of(range(3)).to_list()) == 6  # nothing covered: nothing more shipped


def test_a_published_bucket_handed_on_as_it_is_covers_what_it_showed_and_no_more():
    """``Closed.rolled_into`` hands a window's buckets on themselves: the next span's merges grow
    the bucket's visitors, never the visitors it showed (the rule for a rollup's own count)."""
    from logscrub.scrub.aggregate import Closed

    minute = bucket_of(range(3))
    minute.cover()
    (entry,) = Closed("s", 60, 0, {("path", "/x"): minute}).rolled_into(3600)["buckets"]
    assert entry == ["path", "/x", minute]
    hour = TrafficAggregator(3600, 5, ("path",), 0, rollup=True)
    hour.merge_partial({"site": "s", "window": 0, "upto": 60, "buckets": [entry]}, 0.0)
    hour.merge_partial(partial_of(bucket_of(range(10, 17))), 0.0)
    (rolled,) = [b for c in hour.flush() for b in c.buckets.values()]
    assert rolled.visitors == 10 and rolled.covered_visitors() == 3 and rolled.uncovered() == 7


def partial_of(b: Bucket) -> dict:
    return {"site": "s", "window": 0, "upto": 120, "buckets": [["path", "/x", *b.to_list()]]}


def _comparable(b: Bucket) -> list:
    """A bucket's list with its sketch as its registers' estimate: the bytes of a sketch read back
    list its coupons in another order."""
    from logscrub.scrub.aggregate import _estimate, _sketch

    out = b.to_list()
    return [*out[:3], _estimate(_sketch(out[3])) if out[3] else None, *out[4:]]


def test_a_rolled_window_goes_to_the_topic_as_the_lists_a_partial_carries():
    """What a worker sends for the next span (``wire``) is what ``partial`` made before buckets were
    handed on themselves, and merges to the same bucket as the bucket handed on."""
    from logscrub.scrub.aggregate import Closed, partial, wire

    for n in (3, 200):  # a set and a sketch
        window = Closed("s", 60, 120, {("total", ""): bucket_of(range(n)), ("path", "/x"): bucket_of(range(2))})
        live = window.rolled_into(3600)
        sent = orjson.loads(orjson.dumps(wire(live)))
        assert sent == orjson.loads(orjson.dumps(partial("s", 3600, 0, window.buckets, upto=180)))
        hours = [TrafficAggregator(3600, 5, ("path",), 0, rollup=True) for _ in range(2)]
        hours[0].merge_partial(live, 0.0)
        hours[1].merge_partial(sent, 0.0)
        got = [{key: _comparable(b) for c in h.flush() for key, b in c.buckets.items()} for h in hours]
        assert got[0] == got[1]
    assert wire({"site": "s", "span": 60, "window": 0, "emitted": True}) == {"site": "s", "span": 60, "window": 0,
                                                                            "emitted": True}


def test_a_line_dated_in_the_future_moves_event_time_no_further_than_the_clock():
    """Red-team round 4: one line a year ahead closed every window (and wrote every event slot)
    with its first batch; the rest was dropped as late (93-98% of events)."""
    import time

    a = agg(lateness=60)
    a.add(AggUpdate("s", int(time.time()) + 365 * 86400, 1, 1, 10, "2xx", ()))
    assert a.watermark <= time.time() - 60


def _replayed(topic: list[dict], committed: int, levels: list[TrafficAggregator] | None = None) -> WindowOwner:
    """An owner given the partition as the worker sets one up: what is before ``committed`` read
    back, then what comes after it read ahead of the replay (``WindowOwner.restore``)."""
    owner = WindowOwner(levels or [agg(lateness=60)], 5.0, mark_releases=True)
    for offset, p in enumerate(topic):
        if p.get("emitted") or p.get("closing") or p.get("written"):
            owner.restore(p, 0, ahead=offset >= committed)
    return owner


def test_a_window_emitted_before_a_crash_is_not_published_again_from_part_of_its_partials():
    """Its partials behind an earlier, still open window's are not committed: replayed after a
    crash, they published the window a second time from part of its partials, and the difference
    of the two records rested on the part committed (here 6 clients of 12; it can be one). The
    owner marks each window it emits in the partials topic; the next owner drops what it holds of it."""
    w1, w2 = agg(lateness=60), agg(lateness=60)
    for v in range(6):
        w1.add(upd(0, v))
        w2.add(upd(0, 6 + v))
    topic = [*w1.drain_partials(), *w2.drain_partials()]  # offsets 0 and 1
    first = WindowOwner([agg(lateness=60)], 5.0, mark_releases=True)
    for offset, p in enumerate(topic):
        first.merge(p, offset, 0, 0.0, offset)
    out = first.idle(1e9, 1e9)
    (mark,) = [p for p in out.forward if p.get("emitted")]
    assert by_dim(out.records, "total")[""]["requests"] == 12 and mark["window"] == 0
    assert out.closing == [{"site": "s", "span": 60, "window": 0, "closing": True, "upto": 1}]
    topic += [*out.closing, mark]  # offsets 2 and 3; offset 0 was committed before the crash

    def replay(records: list[dict]) -> tuple[list, list]:
        second = _replayed(records, 1)
        acks = [a for offset, p in enumerate(records) if offset >= 1 for a in second.merge(p, offset, 0, 0.0, offset).acks]
        return second.idle(1e9, 1e9).records, acks

    again, acks = replay(topic)
    assert again == [] and sorted(acks) == [1, 2, 3]
    again, _ = replay(topic[:2])  # without its closing record and mark
    assert by_dim(again, "total")[""]["requests"] == 6
    # Its mark read back (before the committed offset), a partial of it coming later is late.
    third = WindowOwner([agg(lateness=60)], 5.0, mark_releases=True)
    third.restore(mark, 0)
    assert third.merge(topic[1], 1, 0, 0.0, 1).acks == [1] and third.idle(1e9, 1e9).records == []
    assert third.base.late == 6


def test_a_window_whose_mark_a_crash_lost_is_published_again_from_the_same_partials():
    """Its records delivered, its mark not: nothing of it was acknowledged, and the next owner
    replays all its partials. Held to the end of the replay, it took in a partial that was late for
    the first copy too, and the two copies differed by that one client (red-team round 13, F2). Its
    closing record, delivered before its records, says which partials it had: the replay closes it
    there, and the later one is late again, passed on to the hour (F3)."""
    workers = [agg(lateness=60) for _ in range(3)]
    for v in range(6):
        workers[0].add(upd(0, v))
        workers[1].add(upd(0, 6 + v))
        workers[2].add(upd(180, 20 + v))
    topic = [p for w in workers for p in w.drain_partials()]  # window 0 twice, then 180: event time moves on

    def levels() -> list[TrafficAggregator]:
        return [agg(lateness=60), TrafficAggregator(3600, 5, ("path", "country"), 60, rollup=True)]

    first = WindowOwner(levels(), 5.0, mark_releases=True)
    out = [first.merge(p, offset, 0, 0.0, offset) for offset, p in enumerate(topic)][-1]
    assert by_dim(out.records, "total")[""]["requests"] == 12 and out.closing[0]["upto"] == 2
    late = agg(lateness=60)
    late.add(upd(0, 99))
    topic += late.drain_partials()  # offset 3: a client late for window 0, landing before its closing record
    topic += out.closing  # offset 4; its records are delivered, then the worker dies before its mark

    second = _replayed(topic, 0, levels())
    replayed = [second.merge(p, offset, 0, 0.0, offset) for offset, p in enumerate(topic)]
    again = [r for e in replayed for r in e.records]
    assert again == out.records  # the same copy: 12 requests, 12 visitors, the same buckets
    forwarded = [p for e in replayed for p in e.forward if not p.get("emitted")]
    assert [(p["span"], p["window"]) for p in forwarded] == [(3600, 0), (3600, 0)]
    assert [requests_in(b) for p in forwarded for b in p["buckets"] if b[0] == "total"] == [1, 12]  # the late one, then it
    assert second.base.late == 1
    assert [e.closing for e in replayed if e.closing] == []  # its closing record is there already


def test_a_windows_closing_record_or_mark_that_does_not_parse_is_acknowledged_and_ignored():
    """Read on every restart, a record that stopped the worker would stop it for good."""
    bad = [{"site": "s", "span": 60, "window": [0], "closing": True, "upto": 1},
           {"site": "s", "span": 60, "window": [0], "emitted": True}, {"span": 60, "emitted": True},
           {"site": "s", "span": [60], "window": 0, "emitted": True},
           {"site": 3, "span": 60, "window": 0, "closing": True, "upto": 1},
           {"site": "s", "span": 60, "window": 0, "closing": True, "upto": "x"},
           {"site": "s", "span": 60, "window": 0, "closing": True}]  # fmt: skip
    owner = WindowOwner([agg(lateness=60)], 5.0, mark_releases=True)
    owner.restore({"site": "s", "span": 60, "window": 600, "closing": True, "upto": 99}, 0, ahead=True)  # one pinned
    for offset, p in enumerate(bad):
        owner.restore(p, 0, ahead=True)
        assert owner.merge(p, offset, 0, 0.0, offset).acks == [offset]
    w = agg(lateness=60)
    for v in range(6):
        w.add(upd(0, v))
    for p in w.drain_partials():
        owner.merge(p, "a", 0, 0.0, 9)
    assert by_dim(owner.idle(1e9, 1e9).records, "total")[""]["requests"] == 6  # no window was pinned


def test_an_emission_not_written_leaves_its_windows_to_be_published_when_the_partition_comes_back():
    """A rebalance stopped an emission after its closing record: the owner still took its window
    for published, and given the partition back (Kafka's eager rebalance often gives the same one
    back), dropped its partials as in a first copy that never was (red-team round 14, F05)."""
    w = agg(lateness=60)
    for v in range(6):
        w.add(upd(0, v))
    topic = w.drain_partials()
    w.add(upd(180, 1))
    topic += w.drain_partials()
    owner = WindowOwner([agg(lateness=60)], 5.0, mark_releases=True)
    out = [owner.merge(p, offset, 0, 0.0, offset) for offset, p in enumerate(topic)][-1]
    assert by_dim(out.records, "total")[""]["requests"] == 6
    topic += out.closing  # delivered; then the partitions were taken away, and nothing more written
    owner.revoke({0})
    for offset, p in enumerate(topic):  # given back: read on to the end, then replayed from offset 0
        if p.get("closing"):
            owner.restore(p, 0, ahead=True)
    again = [r for offset, p in enumerate(topic) for r in owner.merge(p, offset, 0, 0.0, offset).records]
    assert again == out.records


def test_a_rollup_closed_by_its_closing_record_with_nothing_of_it_replayed_stays_closed():
    """A rollup's partials are acknowledged at once, so a replay may hold none of an hour whose
    closing record it reads: the hour is out all the same, and a partial late for it goes on to the
    day. It opened the hour again, published a second time from that partial alone (round 14, F01)."""
    levels = [agg(lateness=60), TrafficAggregator(3600, 5, ("path", "country"), 60, rollup=True)]
    owner = WindowOwner(levels, 5.0, mark_releases=True)
    closing = {"site": "s", "span": 3600, "window": 0, "closing": True, "upto": 4}
    owner.restore(closing, 0, ahead=True)
    assert owner.merge(closing, "c", 0, 0.0, 5).acks == ["c"]
    hour = TrafficAggregator(60, 5, ("path", "country"), 60)
    for v in range(6):
        hour.add(upd(1800, 900 + v))
    (late,) = hour.drain_partials()
    out = owner.merge({**late, "span": 3600, "window": 0}, "l", 0, 0.0, 6)
    assert out.records == [] and owner.levels[1].late == 6
    assert owner.idle(1e9, 1e9).records == []


def test_a_partition_replaying_holds_its_own_windows_only():
    """Windows waited for every partition's replay to end: one long replay, or a read-back stalled
    on the broker, held all of an owner's windows, and their partials uncommitted (red-team round
    13, F5: 0 published in an hour, then 126 at once). A window of a partition replaying still
    waits: read after another partition's backlog, event time would pass it before its partials."""
    owner = WindowOwner([agg(lateness=60)], 5.0, mark_releases=True)
    owner.hold({1})  # partition 1 replays
    for partition in (0, 1):
        w = agg(lateness=60)
        for v in range(6):
            w.add(upd(0, v, site=f"p{partition}"))
        for p in w.drain_partials():
            owner.merge(p, (partition, 0), partition, 0.0, 0)
    w = agg(lateness=60)
    w.add(upd(180, 1, site="p0"))
    (p,) = w.drain_partials()
    out = owner.merge(p, (0, 1), 0, 0.0, 1)  # event time passes minute 0 on both partitions
    assert {r["site"] for r in out.records} == {"p0"} and owner.defer_releases  # slots still wait
    assert owner.idle(1e9, 1e9).records == []
    owner.hold(set())  # partition 1's replay is over
    assert {r["site"] for r in owner.idle(1e9, 1e9).records} == {"p1"}


def test_a_rollup_rebuilt_on_a_partition_given_back_closes_when_it_is_quiet():
    """An emission a rebalance stopped never wrote the hour's partial it counted as on its way: that
    count kept the hour (and its day) open for good once the same owner, given the partition back,
    rebuilt it, and a quiet site's last hour was never published (red-team round 15, F02)."""
    levels = [agg(lateness=60), TrafficAggregator(3600, 5, ("path", "country"), 60, rollup=True)]
    owner = WindowOwner(levels, 5.0, mark_releases=True)
    w = agg(lateness=60)
    for v in range(6):
        w.add(upd(0, v))
    (p,) = w.drain_partials()
    owner.merge(p, 0, 0, 1.0, 0)
    assert owner.idle(200.0, 1e10).records  # minute 0 closes on idle; its emission is not written
    owner.revoke({0})  # given back: minute 0 replayed
    owner.merge(p, 0, 0, 201.0, 0)
    out = owner.idle(400.0, 1e10)
    (hour,) = [f for f in out.forward if not f.get("emitted")]
    owner.handed(out)
    owner.merge(hour, 1, 0, 401.0, 1)  # its hour's partial read back from the topic
    assert {r["span"] for r in owner.idle(1e6, 1e10).records} == {"1h"}


def _rollup_levels() -> list[TrafficAggregator]:
    return [agg(lateness=60), TrafficAggregator(3600, 5, ("path", "country"), 60, rollup=True)]


def _run(owner: WindowOwner, topic: list[dict], start: int, acked: set[int], records: list[dict], now: float) -> None:
    """The worker's agent on partials partition 0 from ``start``: each record merged, what the owner
    emits appended to the topic (closing records, then forwarded partials and marks), a rollup's
    partial acknowledged at once, the rest when the owner says so."""
    offset = start
    while offset < len(topic):
        p = topic[offset]
        out = owner.merge(p, offset, 0, now, offset)
        if p.get("span") == 3600 and not (p.get("closing") or p.get("emitted")):
            acked.add(offset)
        acked.update(out.acks)
        records += out.records
        topic += [*out.closing, *(wire(f) for f in out.forward)]
        offset += 1


def _quiet(
    owner: WindowOwner, topic: list[dict], acked: set[int], records: list[dict],
    times: tuple[float, ...] = (1e9, 2e9, 3e9), wall: float = 1e10,
) -> None:
    """The stream ends: the minutes, then the hour, close on idle (at each of ``times``; a rollup
    only once over by the clock ``wall``)."""
    for now in times:
        out = owner.idle(now, wall)
        records += out.records
        topic += [*out.closing, *(wire(f) for f in out.forward)]
        _run(owner, topic, len(topic) - len(out.closing) - len(out.forward), acked, records, now)


def _minutes(
    owner: WindowOwner, w: TrafficAggregator, topic: list[dict], acked: set[int], records: list[dict],
    minutes: range = range(10), start: int = 0, site: str = "s", now: float = 0.0, tick: float = 0.0,
) -> int:
    """``minutes`` of ``site`` from ``start``, 6 visitors each, through ``owner`` as they come (at
    ``now``, ``tick`` seconds apart), the hour left open; the committed offset then."""
    for minute in minutes:
        for v in range(6):
            w.add(upd(start + minute * 60, minute * 10 + v, site=site))
        topic += w.drain_partials()
        _run(owner, topic, len(topic) - 1, acked, records, now + minute * tick)
    return next(offset for offset in range(len(topic) + 1) if offset not in acked)


def _given(owner: WindowOwner, topic: list[dict], committed: int) -> None:
    """The worker's read-back of partition 0 for an owner given it, ``committed`` its offset: the
    records it takes told from their bytes."""
    owner.read_back_starts(0)
    for offset, p in enumerate(topic):
        value = orjson.dumps(p)
        if owner.takes_back(value, ahead=offset >= committed):
            owner.restore(orjson.loads(value), 0, ahead=offset >= committed)
    owner.rebuild(0, 0.0)


@pytest.mark.parametrize("crash", [True, False])
def test_an_hour_open_when_its_partition_moves_is_rebuilt_from_its_partials_read_back(crash):
    """A rollup's partials are acknowledged at once (it waits up to an hour or a day): the next owner,
    after a crash or a rebalance, replayed only those after the committed offset, and the hour was
    published from the minutes after it alone, or not at all (red-team round 15: 34 hours and 7 days
    lost in 60 runs). The read-back keeps the ones before it and rebuilds the hour."""
    w = agg(lateness=60)
    topic: list[dict] = []
    first, acked, records = WindowOwner(_rollup_levels(), 5.0, mark_releases=True), set(), []
    committed = _minutes(first, w, topic, acked, records)
    assert [r for r in records if r["span"] == "1h"] == []  # the hour is open
    assert sum(p.get("span") == 3600 for p in topic[:committed]) >= 5  # minutes 0-4 at least, acknowledged
    if crash:
        second = WindowOwner(_rollup_levels(), 5.0, mark_releases=True)
    else:  # a rebalance giving the partition back (Kafka's eager rebalance often does)
        second = first
        second.revoke({0})
    _given(second, topic, committed)
    _run(second, topic, committed, acked, records, 0.0)
    _quiet(second, topic, acked, records)
    hours = [r for r in records if r["span"] == "1h" and r["dimension"] == "total"]
    assert [r["visitors"] for r in hours] == [60]  # every minute's visitors, published once
    minutes = {r["window_start"] for r in records if r["span"] == "1m"}
    assert len(minutes) == 10


def test_an_hour_whose_mark_the_read_back_finds_is_not_rebuilt():
    """Its partials read back before its mark are dropped with it: published already."""
    w = agg(lateness=60)
    topic: list[dict] = []
    for minute in range(3):
        for v in range(6):
            w.add(upd(minute * 60, minute * 10 + v))
        topic += w.drain_partials()
    first, acked, records = WindowOwner(_rollup_levels(), 5.0, mark_releases=True), set(), []
    _run(first, topic, 0, acked, records, 0.0)
    _quiet(first, topic, acked, records)
    assert [r["visitors"] for r in records if r["span"] == "1h" and r["dimension"] == "total"] == [18]
    second = WindowOwner(_rollup_levels(), 5.0, mark_releases=True)
    _given(second, topic, len(topic))
    assert second.levels[1].open_windows() == [] and second.idle(1e9, 1e10).records == []


def _published_hour_then_late_minutes(sites: tuple[str, ...] = ("s",), late_minute: int = 0) -> tuple[list[dict], list[dict]]:
    """Three minutes of 6 visitors a site, their hours published (closing records, records, marks),
    then six late lines of the first site's ``late_minute``: a partial late for its minute, forwarded to
    the hour, where it is late too (or, for a minute without lines before, a minute of its own,
    published and handed to the hour)."""
    w = agg(lateness=60)
    for site in sites:
        for minute in range(3):
            for v in range(6):
                w.add(upd(minute * 60, minute * 10 + v, site=site))
    topic, acked, records = w.drain_partials(), set(), []
    first = WindowOwner(_rollup_levels(), 5.0, mark_releases=True)
    _run(first, topic, 0, acked, records, 0.0)
    _quiet(first, topic, acked, records)
    for v in range(6):
        w.add(upd(late_minute * 60, v, site=sites[0]))
    start = len(topic)
    topic += w.drain_partials()
    _run(first, topic, start, acked, records, 4e9)
    _quiet(first, topic, acked, records, (5e9, 6e9, 7e9))  # a minute of its own closes on idle
    late = [q for q in topic[start:] if q.get("span") == 3600 and not (q.get("closing") or q.get("emitted"))]
    assert late and all(q["late"] is True for q in late)
    assert [r["visitors"] for r in records if r["span"] == "1h" and r["dimension"] == "total"] == [18] * len(sites)
    return topic, records


def _hours_published(owner: WindowOwner) -> list[dict]:
    return [r for now in (1e9, 2e9, 3e9) for r in owner.idle(now, 1e10).records if r["span"] == "1h"]


@pytest.mark.parametrize("minute", [0, 10])
def test_late_partials_left_of_a_published_hour_whose_mark_is_gone_do_not_rebuild_it(minute):
    """Retention took the segments up to the hour's mark and left the late partials after it: rebuilt
    from those alone, the hour came out a second time, 6 visitors beside the first copy's 18, a
    difference of fewer than k (red-team round 18). A partial late for a window out is marked so,
    forwarded from a minute out (minute 0) or handed on by a minute first opened late (minute 10)."""
    topic, _ = _published_hour_then_late_minutes(late_minute=minute)
    mark = max(i for i, q in enumerate(topic) if q.get("span") == 3600 and q.get("emitted"))
    second = WindowOwner(_rollup_levels(), 5.0, mark_releases=True)
    _given(second, topic[mark + 1 :], len(topic) - mark - 1)
    assert second.levels[1].open_windows() == [] and _hours_published(second) == []


def test_a_window_over_before_a_later_one_found_out_is_not_rebuilt(monkeypatch):
    """An owner remembers a bounded number of marks (``_CLOSED_KEPT``): one forgotten in a long
    read-back, an hour out looked open. A later hour of its span and site found out on the partition
    says it was out too. Here the late partials pass for fresh ones (their writer did not know the
    hour out)."""
    monkeypatch.setattr(aggregate, "_CLOSED_KEPT", 1)
    topic, _ = _published_hour_then_late_minutes(("s", "t"))
    for q in topic:
        q.pop("late", None)
    later = [q for q in topic if q.get("span") == 3600 and q.get("emitted") and q["site"] == "t"]
    later[0] |= {"site": "s", "window": 3600}  # stands for site s's next hour, published
    second = WindowOwner(_rollup_levels(), 5.0, mark_releases=True)
    _given(second, topic, len(topic))
    assert _hours_published(second) == []


def test_another_sites_window_found_out_does_not_stop_a_rebuild():
    """A line dated next year closes its hour at once on idle: counted for every site, its mark kept
    every hour on the partition from being rebuilt for a day (red-team round 18)."""
    w = agg(lateness=60)
    topic = [{"site": "f", "span": 3600, "window": 10**10, "closing": True, "upto": 0},
             {"site": "f", "span": 3600, "window": 10**10, "emitted": True}]
    first, acked, records = WindowOwner(_rollup_levels(), 5.0, mark_releases=True), {0, 1}, []
    committed = _minutes(first, w, topic, acked, records)
    second = WindowOwner(_rollup_levels(), 5.0, mark_releases=True)
    _given(second, topic, committed)
    _run(second, topic, committed, acked, records, 0.0)
    _quiet(second, topic, acked, records)
    assert [r["visitors"] for r in records if r["span"] == "1h" and r["dimension"] == "total"] == [60]


def test_a_read_back_tried_again_counts_each_partial_once():
    """A read-back that fails (a fetch error, a record that stops it) is tried again from the
    partition's start: what the first kept is dropped, or each partial would count twice."""
    w = agg(lateness=60)
    topic, acked, records = [], set(), []
    first = WindowOwner(_rollup_levels(), 5.0, mark_releases=True)
    committed = _minutes(first, w, topic, acked, records)
    once, twice = (WindowOwner(_rollup_levels(), 5.0, mark_releases=True) for _ in range(2))
    _given(once, topic, committed)
    for q in topic[: committed // 2]:  # the first try stops half-way
        twice.restore(q, 0)
    _given(twice, topic, committed)
    (hour,) = once.levels[1].open_windows()
    assert once.levels[1]._open[hour][("total", "")].requests > 0
    assert twice.levels[1]._open[hour][("total", "")].requests == once.levels[1]._open[hour][("total", "")].requests


def test_a_minute_dated_next_year_leaves_the_hours_after_it_whole():
    """It closes on idle and hands its hour a partial up to next year: an hour's watermark that far
    ahead closed every hour after it at its first minute (red-team round 18: 6 of 60 visitors, 54
    requests late), or, since an hour waits for its minutes, at the first pause that closed them on
    idle. Never ahead of the clock, as the minutes' own."""
    now = int(time.time()) // 3600 * 3600 + 3600  # the next hour: not over by the clock while this runs
    w, topic, acked, records = agg(lateness=60), [], set(), []
    owner = WindowOwner(_rollup_levels(), 5.0, mark_releases=True)
    w.add(upd(now + 365 * 86400, 999, site="f"))
    topic += w.drain_partials()
    _run(owner, topic, 0, acked, records, 0.0)
    _quiet(owner, topic, acked, records, (10.0,))  # the minute closes, quiet
    _minutes(owner, w, topic, acked, records, range(5), start=now, site="t", now=20.0, tick=1.0)
    _quiet(owner, topic, acked, records, (40.0,), wall=time.time())  # a pause: minutes 0-4 close on idle
    _minutes(owner, w, topic, acked, records, range(5, 10), start=now, site="t", now=50.0, tick=1.0)
    _quiet(owner, topic, acked, records)
    hours = [r["visitors"] for r in records if r["span"] == "1h" and r["dimension"] == "total" and r["site"] == "t"]
    assert hours == [60] and owner.levels[1].late == 0


def test_one_sites_last_minute_closes_no_other_sites_hour_before_its_own():
    """Two sites on one partition close their last minute of an hour together: the first one's, read
    first, moved the hour's watermark and closed the other's hour with its last minute on its way,
    late there, in the day only (red-team round 18: 354 of 360)."""
    w, topic, acked, records = agg(lateness=60), [], set(), []
    owner = WindowOwner(_rollup_levels(), 5.0, mark_releases=True)
    for minute in range(61):
        for site in ("s", "t"):
            for v in range(6):
                w.add(upd(minute * 60, minute * 10 + v, site=site))
        topic += w.drain_partials()
        _run(owner, topic, len(topic) - 2, acked, records, 0.0)
    _quiet(owner, topic, acked, records)
    hours = {r["site"]: r["visitors"] for r in records
             if r["span"] == "1h" and r["dimension"] == "total" and r["window_start"] == "1970-01-01T00:00:00Z"}
    assert hours == {"s": 360, "t": 360} and owner.levels[1].late == 0


def test_a_partial_dated_next_year_without_marks_makes_no_line_late():
    """Partials without sources' marks (``scrub``, a raw worker's from before heartbeats) move the
    watermark by their window: never past the clock, as the lines' own."""
    now = int(time.time()) // 60 * 60 + 3600  # a minute an hour ahead: not over by the clock
    w, owner = agg(lateness=60), WindowOwner(_rollup_levels(), 5.0, mark_releases=True)
    for v in range(6):
        w.add(upd(now + 365 * 86400, v, site="f"))
        w.add(upd(now, v))
    for offset, p in enumerate(w.drain_partials()):
        owner.merge(p, offset, 0, 0.0, offset)
    for v in range(6, 12):
        w.add(upd(now, v))
    (p,) = w.drain_partials()
    owner.merge(p, 9, 0, 0.0, 9)
    assert owner.base.late == 0 and owner.base.watermark <= time.time()


def test_marks_read_on_one_partition_close_no_window_fed_from_another():
    """The owner's watermark was one for all its partitions: marks read on one (its backlog, or a
    fetch ahead) closed another's windows before the rest of their partials there, which came late
    (red-team round 15, F01: a window of 6 clients withheld, 3 requests late). A window closes on
    the marks heard on its own partition."""
    owner = WindowOwner([agg(lateness=60)], 5.0, mark_releases=True)

    def partial(site: str, window: int, clients: range, mark: int) -> dict:
        w = agg(lateness=60)
        for v in clients:
            w.add(upd(window, v, site=site))
        (p,) = w.drain_partials({"0": mark})
        return p

    assert owner.merge(partial("one", 0, range(3), 60), "a", 1, 0.0, 0).records == []
    assert owner.merge(partial("zero", 300, range(5), 300), "b", 0, 0.0, 0).records == []
    out = owner.merge(partial("one", 0, range(3, 6), 300), "c", 1, 0.0, 1)
    assert by_dim(out.records, "total")[""]["requests"] == 6 and owner.base.late == 0


def test_a_batch_s_heartbeat_closes_windows_once_all_its_records_on_the_partition_are_read():
    """Several sites' keys share a partials partition: the marks on one key's last record were read
    before the batch's records under another key there, which came late (red-team round 16, F01: a
    window of 6 clients withheld with 3, the other 3 late). Sent after them all, they are not."""
    from logscrub.scrub.aggregate import heartbeat

    owner = WindowOwner([agg(lateness=60)], 5.0, mark_releases=True)
    batch = agg(lateness=60)
    for v in range(6):
        batch.add(upd(240, v, site="x"))
        batch.add(upd(240, 10 + v, site="y"))
    batch.add(upd(360, 99, site="x"))
    records = [heartbeat({"0": 0}, 60, 0), *batch.drain_partials(), heartbeat({"0": 360}, 60, 0)]  # the last batch's, then this one's
    out = [owner.merge(p, i, 0, 0.0, i) for i, p in enumerate(records)]
    assert [e.records for e in out[:-1]] == [[], [], [], []]
    totals = {r["site"]: r["requests"] for r in out[-1].records if r["dimension"] == "total"}
    assert totals == {"x": 6, "y": 6} and owner.base.late == 0 and sorted(out[-1].acks) == [1, 2]


def test_a_partition_waits_for_its_own_heartbeat_after_a_pause_or_before_its_first():
    """A source quiet past the idle time counted, on a partition, as heard anywhere: its first
    heartbeat after the pause, read on one partition, made the batch's records on the other late
    (red-team round 17, F03: a window of 6 clients withheld with 3, 3 late). A partition given
    before its first heartbeat did the same."""
    from logscrub.scrub.aggregate import heartbeat

    def half(clients: range) -> dict:
        w = agg(lateness=60)
        for v in clients:
            w.add(upd(600, v, site="x"))
        return w.drain_partials()[0]

    for given_late in (False, True):
        owner = WindowOwner([agg(lateness=60)], 5.0, mark_releases=True)
        owner.merge(heartbeat({"0": 0}, 60, 0), "h", 0, 0.0, 0)
        if not given_late:
            owner.merge(heartbeat({"0": 0}, 60, 1), "h", 1, 0.0, 0)
        assert owner.merge(half(range(3)), "a", 1, 100.0, 1).records == []
        assert owner.merge(heartbeat({"0": 720}, 60, 0), "h", 0, 100.0, 1).records == []  # after a pause
        out = [owner.merge(half(range(3, 6)), "b", 1, 100.0, 2), owner.merge(heartbeat({"0": 720}, 60, 1), "h", 1, 100.0, 3)]
        assert by_dim(out[-1].records, "total")[""]["requests"] == 6 and owner.base.late == 0


def test_a_source_not_heard_yet_holds_windows_back_for_the_idle_time_only():
    """Only the sources heard from held windows back: a worker whose first batch came seconds after
    another's had its lines made late (CI, 1 December 2026: 82 of 4,000). Heartbeats say how many
    raw partitions there are; one never heard from (an empty partition) waits the idle time only."""
    from logscrub.scrub.aggregate import heartbeat

    def part(clients: range) -> dict:
        w = agg(lateness=60)
        for v in clients:
            w.add(upd(600, v, site="x"))
        return w.drain_partials()[0]

    owner = WindowOwner([agg(lateness=60)], 5.0, mark_releases=True)
    assert owner.merge(part(range(3)), "a", 0, 0.0, 0).records == []
    assert owner.merge(heartbeat({"0": 720}, 60, 0, sources=2), "h", 0, 1.0, 1).records == []  # "1" not heard yet
    assert owner.merge(part(range(3, 6)), "b", 0, 2.0, 2).records == []
    out = owner.merge(heartbeat({"1": 720}, 60, 0, sources=2), "h", 0, 2.0, 3)
    assert by_dim(out.records, "total")[""]["requests"] == 6 and owner.base.late == 0

    owner = WindowOwner([agg(lateness=60)], 5.0, mark_releases=True)
    owner.merge(part(range(6)), "a", 0, 0.0, 0)
    assert owner.merge(heartbeat({"0": 720}, 60, 0, sources=2), "h", 0, 0.0, 1).records == []
    assert owner.idle(4.0, 1e10).records == []
    out = owner.merge(heartbeat({"0": 720}, 60, 0, sources=2), "h", 0, 5.5, 2)  # "1" silent for the idle time
    assert by_dim(out.records, "total")[""]["requests"] == 6


def test_marks_read_back_do_not_make_windows_never_emitted_count_as_emitted(monkeypatch):
    """Read-back marks went into the emitted windows this owner remembers: past its bound they
    pushed out the newest and moved where forgotten windows end, and a new partition's windows
    never emitted were counted late (red-team round 13: 4 of 10 published after 100,100 marks)."""
    monkeypatch.setattr("logscrub.scrub.aggregate._CLOSED_KEPT", 10)
    owner = WindowOwner([agg(lateness=60)], 5.0, mark_releases=True)
    for i in range(25):  # another site's windows, read back, spanning the next window's start
        owner.restore({"site": "other", "span": 60, "window": 60 * (i + 10), "emitted": True}, 0)
    worker = agg(lateness=60)
    for v in range(6):
        worker.add(upd(0, v))
    for p in worker.drain_partials():
        owner.merge(p, "a", 1, 0.0, 0)
    assert by_dim(owner.idle(1e9, 1e9).records, "total")[""]["requests"] == 6 and owner.base.late == 0


def test_bytes_stop_at_the_64_bit_limit_that_json_writers_take():
    """Two hostile lines of 19-digit byte counts in one minute passed 2**64: orjson refused the
    record, scrub stopped with a stack trace and the worker at every restart (review of 18cab05)."""
    from logscrub.scrub.aggregate import MAX_BYTES

    huge = 9_999_999_999_999_999_999  # the most a line's byte count may have: 19 digits
    a = agg(k=2)
    for c in range(3):
        a.add(upd(0, c, nbytes=huge))
    total = by_dim(published(a), "total")[""]
    assert total["bytes"] == MAX_BYTES == 2**63 - 1
    orjson.dumps(total)

    sums = agg(k=2)
    sums.add_sums([("s", 0, 3, [("total", "", 3, 3 * huge, [3, 0, 0, 0, 0, 0], [0, 1, 2], [0, 1, 2])])])
    (p,) = sums.drain_partials()
    merged = agg(k=2)
    for _ in range(2):
        merged.merge_partial(orjson.loads(orjson.dumps(p)), 0.0)
    assert by_dim(published(merged), "total")[""]["bytes"] == MAX_BYTES
