"""`logscrub report --topics` reads the two analytics topics to their end, without a consumer group,
and reports what `logscrub report OUT` reports for the same records; a replayed copy shows as duplicates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kafka import KafkaProducer
from kafka.admin import NewTopic

from logscrub.config import load
from logscrub.run.scrub_files import scrub

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "access.log"


def _report(env: dict[str, str], *argv: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "logscrub", "report", *argv, "--json"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_report_on_the_topics_is_the_report_on_the_files(kafka_bootstrap, kafka_admin, topic_name, tmp_path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    scrub(load(None, env={}), [str(SAMPLE)], tmp_path / "out", progress=False, keys=state / "keys.json")
    env = {"LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
           "LOGSCRUB_TOPICS__EVENTS__NAME": f"{topic_name}.events",
           "LOGSCRUB_TOPICS__TRAFFIC__NAME": f"{topic_name}.traffic"}  # fmt: skip
    kafka_admin.create_topics([NewTopic(f"{topic_name}.events", 3, 1), NewTopic(f"{topic_name}.traffic", 2, 1)])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    events = (tmp_path / "out" / "analytics.events.jsonl").read_bytes().splitlines()
    for role, name in (("events", "analytics.events"), ("traffic", "analytics.traffic")):
        for line in (tmp_path / "out" / f"{name}.jsonl").read_bytes().splitlines():
            producer.send(f"{topic_name}.{role}", line)
    for line in events[:100]:  # a replay of the first 100 events, as a worker would after a crash
        producer.send(f"{topic_name}.events", line)
    producer.flush()
    producer.close()

    topics = _report(env, "--topics")
    files = _report({}, str(tmp_path / "out"))  # the files are named after the default topics
    assert topics["events"]["records"] == files["events"]["records"] + 100 == len(events) + 100
    assert topics["events"]["duplicates"] == 100 and files["events"]["duplicates"] == 0
    assert topics["events"]["days"] == files["events"]["days"]
    assert topics["traffic"] == files["traffic"]
