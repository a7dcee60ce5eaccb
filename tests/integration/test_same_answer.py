"""Invariant 9 on the real broker: one file through `logscrub scrub`, and through `logscrub ship` and a
worker, gives the same events and the same rejections for the same reasons, line for line.

What is compared: events as multisets of whole records except ``id`` (a hash of where the line came
from, a line number in `scrub` and partition:offset on Kafka, keyed with each run's own visitor key:
it differs by design); rejections by reason; and every sealed record opened with the responders'
commands on each side, as multisets of (topic, reason, line), which pins that each line went to the
same output with the same reason. Events depend on counts across the day (invariant 2: a value is
published once k clients showed it), so both drivers must see the lines in the same order: the raw
topic has one partition, `logscrub ship` sends the file in order, and one worker reads it.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections import Counter

import orjson

from hostile_file import write_hostile_file
from logscrub.crypto.master import MasterKey
from logscrub.responders.commands import find, kafka_source
from logscrub.responders.offline import files_source
from logscrub.responders.search import Query
from logscrub.run.scrub_files import scrub
from pipeline_env import Pipeline, sources


def events(records: list[dict]) -> Counter:
    out: Counter = Counter()
    for event in records:
        event = dict(event)
        assert len(event.pop("id")) == 20
        out[orjson.dumps(event, option=orjson.OPT_SORT_KEYS)] += 1
    return out


def opened(found: list[dict]) -> Counter:
    return Counter((r["topic"], r["reason"], r["line"]) for r in found)


def test_one_file_through_scrub_and_through_a_worker_gives_the_same_answers(kafka_bootstrap, topic_name, tmp_path):
    p = Pipeline(kafka_bootstrap, topic_name, tmp_path, env={"LOGSCRUB_INPUT__FORMAT": "auto"})
    try:
        cfg = p.cfg
        log = tmp_path / "access.log"
        lines = write_hostile_file(log, cfg.input.max_line_bytes)

        shipped = subprocess.run(
            [sys.executable, "-m", "logscrub", "ship", str(log)], env={**os.environ, **p.env}, capture_output=True,
            text=True, timeout=300,
        )  # fmt: skip
        assert shipped.returncode == 0, shipped.stderr
        p.start_worker()
        p.wait_for(
            "every line to be accounted for",
            lambda: len(set(sources(p.read("security") + p.read("rejected")))) >= len(lines),
            timeout=300,
        )
        summary = scrub(cfg, [str(log)], tmp_path / "out", progress=False, keys=tmp_path / "state" / "keys.json")
        assert summary.lines == len(lines) and summary.accounted

        worker_events = p.wait_for_events(summary.events)
        out = (tmp_path / "out" / f"{p.topic('events')}.jsonl").read_bytes()
        scrub_events = [orjson.loads(x) for x in out.splitlines()]
        assert len(worker_events) == summary.events
        assert events(worker_events) == events(scrub_events)

        rejected = Counter(r["reason"] for r in p.read("rejected"))
        assert rejected == summary.rejected
        assert {"no_match", "empty", "too_long", "bad_status", "bad_time", "missing_field"} <= set(rejected)

        master = MasterKey(base64.b64decode(p.env["LOGSCRUB_MASTER_KEY"]))
        on_kafka = find(cfg, kafka_source(cfg, master), master, Query(), "security search")
        offline = find(cfg, files_source(cfg, tmp_path / "out", tmp_path / "state" / "keys.json"), master, Query(),
                       "security search")  # fmt: skip
        for found in (on_kafka, offline):
            assert found.counts["matched"] == found.counts["read"] == len(lines), found.counts
        assert opened(on_kafka.records) == opened(offline.records)
    finally:
        p.stop_all()
