import base64

import datasketches

from logscrub.scrub.aggregate import OTHER, AggUpdate, TrafficAggregator


def upd(window, visitor, path="/", country="DE", status="2xx", nbytes=10, site="s"):
    return AggUpdate(site, window, visitor, nbytes, status, (("path", path), ("country", country)))


def by_dim(records, dim):
    return {r["value"]: r for r in records if r["dimension"] == dim}


def test_counts_and_distinct_visitors():
    agg = TrafficAggregator(60, 3, ("path", "country"), 0)
    for v in range(10):
        agg.add(upd(0, v, path="/a"))
        agg.add(upd(0, v, path="/a", status="4xx"))
    recs = agg.flush()
    total = by_dim(recs, "total")[""]
    assert total["requests"] == 20 and total["bytes"] == 200
    assert total["status"]["2xx"] == 10 and total["status"]["4xx"] == 10
    assert total["visitors"] == 10
    assert by_dim(recs, "path")["/a"]["visitors"] == 10
    assert total["window_start"] == "1970-01-01T00:00:00Z" and total["window_end"] == "1970-01-01T00:01:00Z"


def test_small_buckets_fold_into_other():
    agg = TrafficAggregator(60, 5, ("path", "country"), 0)
    for v in range(20):
        agg.add(upd(0, v, path="/popular"))
    agg.add(upd(0, 100, path="/rare-1", country="IS"))
    agg.add(upd(0, 101, path="/rare-2", country="IS"))
    paths = by_dim(agg.flush(), "path")
    assert set(paths) == {"/popular", OTHER}
    assert paths[OTHER]["requests"] == 2 and paths[OTHER]["visitors"] == 2


def test_a_bucket_with_many_requests_but_few_visitors_is_still_suppressed():
    agg = TrafficAggregator(60, 5, ("path",), 0)
    for _ in range(1000):
        agg.add(upd(0, 7, path="/only-one-person"))
    paths = by_dim(agg.flush(), "path")
    assert "/only-one-person" not in paths


def test_windows_close_on_watermark_and_late_data_is_a_new_revision():
    agg = TrafficAggregator(60, 2, ("path",), 60)
    agg.add(upd(0, 1))
    agg.add(upd(60, 2))
    assert agg.close_due() == []
    agg.add(upd(120, 3))
    closed = agg.close_due()
    assert {r["window_start"] for r in closed} == {"1970-01-01T00:00:00Z"}
    agg.add(upd(0, 4))  # late
    late = [r for r in agg.flush() if r["window_start"] == "1970-01-01T00:00:00Z"]
    assert late and all(r["revision"] == 1 for r in late)
    assert agg.late_reopened == 1


def test_sketches_merge_like_sets_across_partial_aggregators():
    a = TrafficAggregator(60, 2, ("path",), 0)
    b = TrafficAggregator(60, 2, ("path",), 0)
    for v in range(0, 600):
        a.add(upd(0, v))
    for v in range(300, 900):
        b.add(upd(0, v))
    union = datasketches.hll_union(12)
    for recs in (a.flush(), b.flush()):
        total = by_dim(recs, "total")[""]
        union.update(datasketches.hll_sketch.deserialize(base64.b64decode(total["visitors_sketch"])))
    assert abs(union.get_result().get_estimate() - 900) < 900 * 0.05


def test_partials_from_two_workers_equal_one_aggregator():
    """Suppression is decided on the merged window, not on each worker's share."""
    single = TrafficAggregator(60, 5, ("path",), 0)
    w1 = TrafficAggregator(60, 5, ("path",), 0)
    w2 = TrafficAggregator(60, 5, ("path",), 0)
    owner = TrafficAggregator(60, 5, ("path",), 0)
    for v in range(8):  # 8 visitors on /split: 4 seen by each worker, each under k alone
        single.add(upd(0, v, path="/split"))
        (w1 if v % 2 else w2).add(upd(0, v, path="/split"))
    for partial in w1.drain_partials() + w2.drain_partials():
        owner.merge_partial(partial, now=0.0)
    assert w1.drain_partials() == []
    strip = lambda recs: sorted((r["dimension"], r["value"], r["requests"], r["visitors"]) for r in recs)  # noqa: E731
    merged = owner.close_idle(now=10.0, idle=5.0)
    assert strip(merged) == strip(single.flush())
    assert ("path", "/split", 8, 8) in strip(merged)


def test_idle_windows_wait_for_the_idle_time():
    owner = TrafficAggregator(60, 2, ("path",), 60)
    w = TrafficAggregator(60, 2, ("path",), 60)
    w.add(upd(0, 1))
    owner.merge_partial(w.drain_partials()[0], now=100.0)
    assert owner.close_idle(now=104.0, idle=5.0) == []
    assert owner.close_idle(now=105.0, idle=5.0)


def test_folding_many_buckets_at_once_equals_folding_them_one_by_one():
    """(other) is built with one union: its sketch must be the one pairwise merges would give."""
    from logscrub.scrub.aggregate import Bucket

    def bucket(visitors):
        b = Bucket()
        for v in visitors:
            b.requests += 1
            b.status[1] += 1
            b.sketch.update(v)
        return b

    sizes = [1, 3, 2, 700, 4, 5000, 1, 2]  # list, set and HLL modes
    parts = [range(i * 10_000, i * 10_000 + n) for i, n in enumerate(sizes)]
    one_by_one, at_once = bucket(parts[0]), bucket(parts[0])
    for p in parts[1:]:
        one_by_one.merge(bucket(p))
    at_once.merge_all([bucket(p) for p in parts[1:]])
    assert at_once.sketch.serialize_compact() == one_by_one.sketch.serialize_compact()
    assert (at_once.requests, at_once.status) == (one_by_one.requests, one_by_one.status)
    assert at_once.visitors == one_by_one.visitors
