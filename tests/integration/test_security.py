"""The security zone on the real broker: keys shared through Kafka and destroyed with the window,
responder search with its audit trail, and data-subject export, erasure and restriction."""

from __future__ import annotations

import itertools
import os
import re
import socket
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from logscrub.kafka.scan import read_topic
from logscrub.responders.search import KEY_GONE
from pipeline_env import Pipeline, sources

ALICE, BOB, CAROL = "198.51.100.77", "2001:db8:77::5", "203.0.113.200"
CANARIES = (ALICE, BOB, CAROL, "2001:db8:77:0:0:0:0:5")


def line(ip: str, path: str, status: int = 200, agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
         when: datetime | None = None) -> bytes:
    """A combined-format line dated ``when`` (now by default)."""
    stamp = (when or datetime.now(UTC)).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {status} 512 "-" "{agent}"'.encode()


def minutes_ago(minutes: int) -> datetime:
    """The start of a minute that is over, inside the 1 h security window: with minute slots, its
    events are written once no line reached it for the allowed lateness, not after a wall-clock minute."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes)


def cli(p: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logscrub", *args],
        env={**os.environ, **p.env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def found(p: Pipeline, *args: str) -> tuple[list[dict], str]:
    run = cli(p, "security", "search", *args)
    assert run.returncode == 0, run.stderr
    return [orjson.loads(x) for x in run.stdout.splitlines()], run.stderr


def accounted(p: Pipeline, n: int) -> bool:
    return len(set(sources(p.read("security") + p.read("rejected")))) >= n


@pytest.fixture
def pipeline(kafka_bootstrap, topic_name, tmp_path):
    p = Pipeline(kafka_bootstrap, topic_name, tmp_path)
    yield p
    p.stop_all()


@pytest.fixture
def short_window(kafka_bootstrap, topic_name, tmp_path):
    p = Pipeline(
        kafka_bootstrap, topic_name, tmp_path,
        env={"LOGSCRUB_SECURITY__WINDOW": "8s", "LOGSCRUB_KEYS__DATA_ROTATION": "2s"},
    )  # fmt: skip
    yield p
    p.stop_all()


def test_records_open_inside_the_window_and_never_after_and_kafka_deletes_them(short_window):
    p = short_window
    produced = [line(ALICE, f"/a/{i}") for i in range(5)]
    sent = p.produce([*produced, b"garbage that does not parse"])
    p.start_worker()
    p.wait_for("every line to be accounted for", lambda: accounted(p, sent), timeout=60)
    records, summary = found(p)
    assert len(records) == sent, summary  # all six open: five events and the rejected line
    assert {r["topic"] for r in records} == {p.topic("security"), p.topic("rejected")}
    assert sorted(r["line"] for r in records if r["reason"] is None) == sorted(x.decode() for x in produced)

    kids = {orjson.loads(v)["kid"] for v in read_topic(p.bootstrap, p.topic("security"))}

    said = [""]

    def keys_dead() -> bool:
        # Nothing opens, and every record still read is unopened for its key's death alone. Kafka
        # deletes each topic's segments on its own once the window is over (retention is the
        # window), so a slow poll may read the rejected line's topic emptied and not yet the
        # events', or nothing at all: what is still there must not open.
        _, said[0] = found(p)
        summary = rf"^(\d+) records read, 0 matched(?:; (\d+) not opened: {re.escape(KEY_GONE)})?$"
        read = re.search(summary, said[0], re.M)
        return read is not None and int(read[1]) == int(read[2] or 0)

    try:
        p.wait_for("every data key to die with the window", keys_dead)
    except AssertionError as e:
        raise AssertionError(f"{e}; the last search said: {said[0]}") from None
    # Straight from the keys topic: the worker tombstones each of those keys (within its 5 s key check).
    p.wait_for(
        "the keys' tombstones",
        lambda: all(_latest_by_key(p, p.topic("keys")).get(f"key/data/{kid}", b"") is None for kid in kids),
        timeout=30,
    )
    status = cli(p, "keys", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert not {k["kid"] for k in orjson.loads(status.stdout)["keys"]} & kids

    def segments_deleted() -> bool:
        return all(start == end for start, end in _offsets(p, p.topic("security")))

    p.wait_for("Kafka to delete the security segments", segments_deleted, timeout=90)


def test_erasure_shreds_one_subject_and_export_returns_exactly_theirs(pipeline):
    p = pipeline
    alice = [line(ALICE, f"/alice/{i}") for i in range(3)]
    bob = [line(BOB, f"/bob/{i}", status=404) for i in range(2)]
    sent = p.produce(alice + bob + [ALICE.encode() + b' - - [broken'])
    p.start_worker()
    p.wait_for("every line to be accounted for", lambda: accounted(p, sent))

    export = cli(p, "subject", "export", "--ip", ALICE)
    assert export.returncode == 0, export.stderr
    doc = orjson.loads(export.stdout)
    assert doc["subject"] == ALICE
    assert sorted(r["line"] for r in doc["records"]) == sorted(x.decode() for x in alice) + [ALICE + " - - [broken"]
    assert {r["client"] for r in doc["records"]} == {ALICE}

    by_network, _ = found(p, "--ip", "2001:db8:77::/48", "--status", "404", "--path", "/bob/")
    assert sorted(r["line"] for r in by_network) == sorted(x.decode() for x in bob)

    erase = cli(p, "subject", "erase", "--ip", ALICE)
    assert erase.returncode == 0, erase.stderr
    assert "erased: 1 subject keys in 1 periods" in erase.stderr  # one key per subject and data period

    after, summary = found(p)
    assert sorted(r["line"] for r in after) == sorted(x.decode() for x in bob)
    assert "4 not opened: subject erased" in summary
    again = cli(p, "subject", "export", "--ip", ALICE)
    assert orjson.loads(again.stdout)["records"] == []
    assert "this address was erased at" in again.stderr

    # Alice's next line gets a new subject key: what is collected after the erasure is readable.
    p.produce([line(ALICE, "/alice/later")])
    p.wait_for("the new line", lambda: accounted(p, sent + 1))
    later = orjson.loads(cli(p, "subject", "export", "--ip", ALICE).stdout)["records"]
    assert [r["target"] for r in later] == ["/alice/later"]


def test_restriction_keeps_a_subject_out_of_analytics_but_sealed(pipeline):
    p = pipeline
    restrict = cli(p, "subject", "restrict", "--ip", CAROL)
    assert restrict.returncode == 0, restrict.stderr
    # Minute slots of lines dated in a minute that is over: Alice's event is written once no line
    # reached its minute for the allowed lateness.
    start = minutes_ago(40)
    sent = p.produce([line(CAROL, "/c/one", when=start), line(CAROL, "/c/two", when=start),
                      line(ALICE, "/a/home", when=start)])
    p.env["LOGSCRUB_EVENTS__TIME_GRANULARITY"] = "1m"
    p.start_worker()
    p.wait_for("every line to be accounted for", lambda: accounted(p, sent))
    events = p.wait_for_events(1)
    assert len(events) == 1  # Alice's: nothing of Carol's reaches analytics
    assert len(p.read("security")) == 3  # Carol's lines are sealed all the same
    carol = orjson.loads(cli(p, "subject", "export", "--ip", CAROL).stdout)["records"]
    assert sorted(r["target"] for r in carol) == ["/c/one", "/c/two"]

    lift = cli(p, "subject", "restrict", "--ip", CAROL, "--lift")
    assert lift.returncode == 0, lift.stderr
    # The worker hears of the lift through the restrictions topic; Carol's next line is analytics again.
    # Each of Carol's lines a minute after the one before (never after now), so event time passes
    # the slot of the one before and writes it.
    polls = itertools.count(1)
    p.wait_for("the lift to reach the worker, and Carol's event its slot's end",
               lambda: _carol_counted(p, min(start + timedelta(minutes=next(polls)), datetime.now(UTC))), timeout=180)


def _carol_counted(p: Pipeline, when: datetime) -> bool:
    """Carol sends a line dated ``when``; whether the events now hold one besides Alice's: one of
    Carol's lines was processed after the lift (a restricted line is sealed and gives no event)."""
    sent = len(p.read("security"))
    p.produce([line(CAROL, "/c/after", when=when)])
    p.wait_for("Carol's line", lambda: len(p.read("security")) > sent)
    return len(p.read("events")) > 1


def test_every_security_command_is_audited_and_nothing_outside_search_output_leaks(pipeline):
    p = pipeline
    port = _free_port()
    p.env["LOGSCRUB_METRICS__PORT"] = str(port)
    over = minutes_ago(30)  # minute slots of a minute that is over: written once no line reached it for the lateness
    sent = p.produce([line(ALICE, "/x", when=over), line(BOB, "/y", when=over)])
    p.env["LOGSCRUB_EVENTS__TIME_GRANULARITY"] = "1m"
    p.start_worker()
    p.wait_for("every line to be accounted for", lambda: accounted(p, sent))
    p.wait_for_events(sent, timeout=150)
    runs = [
        cli(p, "security", "search", "--ip", ALICE, "--output", "table"),
        cli(p, "security", "search", "--ip", "198.51.100.0/24", "--agent", "firefox"),
        cli(p, "subject", "export", "--ip", BOB, "--out", str(p.tmp / "bob.json")),
        cli(p, "subject", "restrict", "--ip", ALICE),
        cli(p, "subject", "erase", "--ip", BOB),
        cli(p, "keys", "status"),
    ]
    assert [r.returncode for r in runs] == [0] * len(runs), [r.stderr for r in runs]
    assert ALICE in runs[0].stdout and ALICE in runs[1].stdout  # the search output itself holds it

    audit = [orjson.loads(v) for v in read_topic(p.bootstrap, p.topic("audit"))]
    assert [a["command"] for a in audit] == [
        "security search", "security search", "subject export", "subject restrict", "subject erase",
    ]  # fmt: skip
    assert audit[0]["counts"]["matched"] == 1 and audit[0]["who"]["user"]
    master = os.environ.get("LOGSCRUB_MASTER_KEY") or p.env["LOGSCRUB_MASTER_KEY"]
    worker_log = b"".join(f.read_bytes() for f in p.tmp.glob("worker-*.log")).decode("utf-8", "replace")
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert "logscrub_worker_lines_total 2.0" in metrics
    outside = [r.stderr for r in runs] + [runs[-1].stdout, worker_log, metrics]
    outside += [v.decode("utf-8", "replace") for v in read_topic(p.bootstrap, p.topic("audit"))]
    outside += [orjson.dumps(e).decode() for e in p.read("events") + p.read("traffic")]
    for text in outside:
        for canary in (*CANARIES, master):
            assert canary not in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _latest_by_key(p: Pipeline, topic: str) -> dict[str, bytes | None]:
    latest: dict[str, bytes | None] = {}
    consumer = KafkaConsumer(bootstrap_servers=p.bootstrap, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    latest[r.key.decode()] = r.value
    finally:
        consumer.close()
    return latest


def _offsets(p: Pipeline, topic: str) -> list[tuple[int, int]]:
    consumer = KafkaConsumer(bootstrap_servers=p.bootstrap)
    try:
        tps = [TopicPartition(topic, n) for n in consumer.partitions_for_topic(topic)]
        starts, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return [(starts[tp], ends[tp]) for tp in tps]
    finally:
        consumer.close()
