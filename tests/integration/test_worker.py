"""The Kafka worker end to end on the real broker: accounting, privacy, scaling, crashes."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
from collections import Counter
from datetime import datetime

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

import orjson
import pytest

import canaries
from logscrub.kafka.rewind import nothing_left
from logscrub.run.rawloop import BATCH
from bench.sample import generate
from pipeline_env import PAUSES, Pipeline, published, request_totals, scrubbed_traffic, sources
from record_schemas import assert_valid

N = 3000


@pytest.fixture
def pipeline(kafka_bootstrap, topic_name, tmp_path):
    p = Pipeline(kafka_bootstrap, topic_name, tmp_path)
    yield p
    p.stop_all()


def lines(n: int = N, seed: int = 7) -> list[bytes]:
    return [line.encode() for line in generate(n, seed=seed, clients=300, user_agents=80)]


def test_every_line_is_accounted_for_and_no_canary_reaches_analytics(pipeline):
    # The fixed canaries, and every generated class with each personal path sent by six clients (k is 5).
    class_lines, class_forbidden, _ = canaries.class_lines()
    forbidden = canaries.FORBIDDEN + class_forbidden
    canary_lines = [line.encode() for line in canaries.combined_lines() + class_lines]
    wrapped = [orjson.dumps({"message": canaries.combined_lines()[0], "host": {"name": "web-1"}})]
    data = lines() + canary_lines
    expected = request_totals(scrubbed_traffic(pipeline.env, data + [canary_lines[0]], pipeline.tmp / "scrub"))
    sent = pipeline.produce(data + wrapped)
    pipeline.start_worker()

    def accounted() -> bool:
        return len(set(sources(pipeline.read("security") + pipeline.read("rejected")))) >= sent

    pipeline.wait_for("every line to be accounted for", accounted)
    security, rejected = pipeline.read("security"), pipeline.read("rejected")
    assert len(set(sources(security))) + len(set(sources(rejected))) == sent
    # One sealed raw record per event, and per withheld line (its group would follow a client):
    # as many events as scrub wrote of the same lines, give or take the one line sent wrapped.
    (written,) = (pipeline.tmp / "scrub" / "expected").glob("*events*.jsonl")
    scrubbed = written.read_bytes().count(b"\n")
    events = pipeline.wait_for_events(scrubbed - 1)
    assert scrubbed - 1 <= len(events) <= min(scrubbed + 1, len(security))
    assert rejected and all(r["reason"] for r in rejected)
    pipeline.wait_for("the aggregates scrub publishes", lambda: request_totals(pipeline.read("traffic")) >= expected)
    assert request_totals(pipeline.read("traffic")) == expected > len(events) // 2

    # Every record the worker wrote, on all four topics, is one its schema describes.
    traffic = pipeline.read("traffic")
    for role, records in (("events", events), ("traffic", traffic), ("security", security), ("rejected", rejected)):
        assert_valid(records, role)

    analytics = b"".join(orjson.dumps(r) for r in events + traffic).lower()
    for canary in forbidden:
        assert canary.lower().encode() not in analytics, canary
    raw_zone = b"".join(orjson.dumps(r) for r in security + rejected).lower()
    for canary in forbidden:
        assert canary.lower().encode() not in raw_zone, canary


def test_a_worker_given_partials_partitions_with_nothing_left_reads_their_marks_back(pipeline):
    """The read-back of a partials partition's marks ran on the first partial read of it: at the
    end of a stream, a worker given a partition with nothing new never read it back, and the days'
    own slots waiting in those marks were never written. It now reads back at once."""
    sent = pipeline.produce(lines(600, seed=5))
    first = pipeline.start_worker()
    pipeline.wait_for("every line to be accounted for",
                      lambda: len(set(sources(pipeline.read("security") + pipeline.read("rejected")))) >= sent)
    partials = [TopicPartition(pipeline.topic("partials"), p) for p in (0, 1)]
    group = pipeline.cfg.kafka.app_id

    def nothing_new() -> bool:
        admin = KafkaAdminClient(bootstrap_servers=pipeline.bootstrap)
        consumer = KafkaConsumer(bootstrap_servers=pipeline.bootstrap)
        try:
            committed = admin.list_group_offsets({group: partials})[group]
            ends = consumer.end_offsets(partials)
        finally:
            admin.close()
            consumer.close()
        return all((committed[tp].offset if tp in committed else 0) == ends[tp] for tp in partials) and any(ends.values())

    pipeline.wait_for("the owner to commit every partial", nothing_new)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0
    assert nothing_new()
    left = asyncio.run(nothing_left(pipeline.cfg.kafka, group, partials[0].topic, {0, 1}, "test"))
    assert set(left) == {0, 1}
    events = len(pipeline.read("events"))
    pipeline.start_worker(log_level="INFO")
    log = pipeline.tmp / f"worker-{pipeline.started - 1}.log"
    said = [f"partials partition {p}: ".encode() for p in (0, 1)]
    pipeline.wait_for("both partitions read back", lambda: all(s in log.read_bytes() for s in said), timeout=60)
    read_back = {int(m[1]): (int(m[2]), int(m[3])) for m in re.finditer(
        rb"partials partition (\d+): (\d+) marks before offset (\d+) read back", log.read_bytes())}
    assert {p: offset for p, (_, offset) in read_back.items()} == left
    assert sum(marks for marks, _ in read_back.values()) > 0
    assert len(pipeline.read("events")) == events  # nothing written twice


def test_two_workers_on_four_partitions_give_the_totals_of_one(kafka_bootstrap, topic_name, tmp_path):
    data = lines(4000, seed=11)
    totals = {}
    # Both runs read one keys topic, so they hash visitors with the same key and count alike.
    shared_keys = {"LOGSCRUB_TOPICS__KEYS__NAME": f"{topic_name}-keys", "LOGSCRUB_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    for workers in (1, 2):
        (tmp_path / f"{workers}w").mkdir()
        p = Pipeline(kafka_bootstrap, f"{topic_name}-{workers}w", tmp_path / f"{workers}w", raw_partitions=4,
                     env=shared_keys)
        try:
            for _ in range(workers):
                p.start_worker()
            p.wait_for_group(workers)  # a rebalance mid-stream would replay lines (at-least-once)
            sent = p.produce(data)
            p.wait_for("accounting", lambda p=p: len(set(sources(p.read("security") + p.read("rejected")))) >= sent)
            scrubbed = scrubbed_traffic(p.env, data, p.tmp / "scrub")
            expected = request_totals(scrubbed)
            windows = {r["window_start"] for r in scrubbed if r["span"] == "1m"}
            p.wait_for("aggregates", lambda p=p: {r["window_start"] for r in p.read("traffic") if r["span"] == "1m"} >= windows)
            traffic = p.read("traffic")
            # A line the scrubber withholds (alone in its day's last-resort group) is in no aggregate,
            # and which lines are withheld depends on the order they are read in, since the scrubber
            # applies its join rule per day only: 182 to 237 of these 4,000 withheld in scrub's file
            # order and three interleavings of four partitions. Within that, the same totals.
            assert abs(request_totals(traffic) - expected) <= len(data) // 50
            totals[workers] = {
                "requests": request_totals(traffic),
                "by_path": sorted((r["value"], r["requests"]) for r in traffic if r["dimension"] == "path" and r["span"] == "1m"),
                "windows": len({r["window_start"] for r in traffic if r["span"] == "1m"}),
            }
        finally:
            p.stop_all()
    assert abs(totals[1]["requests"] - totals[2]["requests"]) <= len(data) // 50
    assert min(totals[1]["requests"], totals[2]["requests"]) > len(data) // 2
    assert totals[1]["windows"] == totals[2]["windows"]


def test_sigkill_mid_stream_then_restart_loses_nothing(pipeline):
    pipeline.env |= PAUSES
    data = lines(20000, seed=3)
    sent = pipeline.produce(data)
    worker = pipeline.start_worker()
    pipeline.wait_for("some progress", lambda: len(pipeline.read("security")) >= 2000)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    # The killed worker read at most one batch past its committed offset (one raw partition here):
    # those lines, and only those, the restarted one processes again.
    committed = pipeline.committed_raw()[0]
    replayable = data[committed:committed + BATCH]
    pipeline.start_worker()

    def accounted() -> bool:
        return len(set(sources(pipeline.read("security") + pipeline.read("rejected")))) >= sent

    pipeline.wait_for("every line after the restart", accounted, timeout=240)
    raw_zone = pipeline.read("security") + pipeline.read("rejected")
    unique = len(set(sources(raw_zone)))
    duplicates = len(raw_zone) - unique
    assert unique == sent
    assert duplicates <= len(replayable), f"{duplicates} duplicates is not a bounded replay"
    # Issue 16 item 3: a replayed line's event carries the first one's id, and no two lines share one,
    # so there are as many distinct event ids as lines that parsed, but the withheld ones: about as
    # many as scrub writes of the same lines (the vocabulary a restarted worker reads back may
    # decide a few lines otherwise; measured before the share cap: 19,988 of 20,000, all but one).
    parsed = len(set(sources(pipeline.read("security"))))
    scrub_traffic = scrubbed_traffic(pipeline.env, data, pipeline.tmp / "scrub")
    expected = request_totals(scrub_traffic)
    (written,) = (pipeline.tmp / "scrub" / "expected").glob("*events*.jsonl")
    scrubbed = written.read_bytes().count(b"\n")
    pipeline.wait_for("every line's event",
                      lambda: len({e["id"] for e in pipeline.read("events")}) >= scrubbed - scrubbed // 50, timeout=240)
    events = pipeline.read("events")
    assert scrubbed - scrubbed // 50 <= len({e["id"] for e in events}) <= parsed
    first: dict[str, dict] = {}
    for e in events:  # a duplicate is the same request: its time is the same (its description may not be)
        assert first.setdefault(e["id"], e)["time"] == e["time"]
    pipeline.wait_for("aggregates", lambda: request_totals(published(pipeline.read("traffic"))) >= expected)
    # Replayed lines may count twice in aggregates too (at-least-once), but only those: a window is
    # published once, its mark keeping the next owner from publishing it again from the partials
    # not committed (before the marks: 9,840-14,790 requests twice; with them, 0 in 3 runs). A kill
    # between an emission's records and its marks publishes its windows again, the same (``published``
    # fails on a copy that differs), and one record per id is kept: a CI run counted 5,095 requests
    # twice that way, 34 windows of 150, more than a batch (an emission closes the windows a batch
    # ends as well as those the one before left open). What is left counts replayed lines only (in
    # 7 runs: 4,950 requests in copies, and 0 once kept one per id; 3,797 of 5,000 lines replayed):
    # those of the windows still open at the kill, whose partials came from both workers (11 runs:
    # 0 to 151 requests, the 11:39 window's 150 twice once). So every request counted twice is a line
    # the restart may have replayed, window by window: the bound is the lines past the committed
    # offset, not the duplicates in the raw zone (a CI run counted 449 requests twice with none).
    traffic = published(pipeline.read("traffic"))
    excess = request_totals(traffic) - expected
    assert 0 <= excess <= len(replayable)
    replayed_in = Counter(minute_of(line) for line in replayable)
    scrub_by_window = totals_by_window(scrub_traffic)
    for window, requests in totals_by_window(traffic).items():
        twice = requests - scrub_by_window.get(window, 0)
        assert twice <= replayed_in[window[1]], f"{window}: {twice} requests more than scrub, {replayed_in[window[1]]} replayed"


def minute_of(line: bytes) -> str:
    """A generated line's minute, as traffic records give ``window_start``."""
    stamp = datetime.strptime(line.split(b"[", 1)[1][:20].decode(), "%d/%b/%Y:%H:%M:%S")
    return stamp.strftime("%Y-%m-%dT%H:%M:00Z")


def totals_by_window(traffic: list[dict]) -> dict[tuple[str, str], int]:
    """Requests of each published 1-minute window, by (site, start)."""
    return {(r["site"], r["window_start"]): r["requests"] for r in traffic if r["dimension"] == "total" and r["span"] == "1m"}
