"""Invariant 2 through the Kafka worker: two workers sharing the day's counts, one of them killed
and restarted mid-stream, on a generated log with known visitors.

Events carry no position, but their ``id`` is a keyed hash of it: with the test's master key the
visitor keys come out of the keys topic, and each event is paired with the line it came from.
"""

from __future__ import annotations

import base64
import hashlib
import signal
from datetime import UTC, datetime

from kafka import KafkaProducer

from bench.privacy import linkability
from bench.visitors import generate
from logscrub.crypto.master import MasterKey
from logscrub.kafka.keystore import KafkaKeyStore
from pipeline_env import PAUSES, Pipeline, sources

LOG = generate(days=4, visitors_per_day=190, seed=2)


def produce_located(p: Pipeline, lines: list[str]) -> list[str]:
    """Each line's ``partition:offset`` in logs.raw, as the worker's ``src`` names it."""
    producer = KafkaProducer(bootstrap_servers=p.bootstrap, acks="all", linger_ms=5)
    futures = [producer.send(p.topic("raw"), line.encode()) for line in lines]
    producer.flush()
    located = [f"{m.partition}:{m.offset}" for m in (f.get(timeout=30) for f in futures)]
    producer.close()
    return located


def event_ids(p: Pipeline, sources_of_lines: list[str], lines: list[str]) -> dict[str, int]:
    """Event id -> index of its line, under every visitor key the workers used (the id hashes the
    line's ``src`` and the line itself)."""
    master = MasterKey(base64.b64decode(p.env["LOGSCRUB_MASTER_KEY"]))
    with KafkaKeyStore(p.cfg.kafka, p.topic("keys"), master) as store:
        store.catch_up()
        keys = store.live("visitor")
    ids = {}
    for key in keys:
        ids_key = hashlib.blake2b(b"logscrub/event-id", key=key.secret, digest_size=32).digest()
        for i, (src, line) in enumerate(zip(sources_of_lines, lines)):
            ids[hashlib.blake2b(b"%s\0%s" % (src.encode(), line.encode()), key=ids_key, digest_size=10).hexdigest()] = i
    return ids


def test_two_workers_and_a_restart_keep_events_unlinkable(kafka_bootstrap, topic_name, tmp_path):
    p = Pipeline(kafka_bootstrap, topic_name, tmp_path, raw_partitions=2, env=dict(PAUSES))
    try:
        first = p.start_worker()
        p.start_worker()
        p.wait_for_group(2)
        located = produce_located(p, LOG.lines)
        p.wait_for("some progress", lambda: len(p.read("security")) >= len(located) // 3)
        first.send_signal(signal.SIGKILL)  # its unacknowledged batch is replayed: duplicates, same ids
        first.wait()
        p.workers.remove(first)
        p.start_worker()
        p.wait_for("every line", lambda: len(set(sources(p.read("security") + p.read("rejected")))) >= len(located),
                   timeout=300)
        # One per line (replays share their id), written once its slot is over; a few lines are withheld.
        # Slots are written in time order once over; the log's last one when no line came for the lateness.
        last = datetime.strptime(LOG.lines[-1].split("[", 1)[1].split("]", 1)[0], "%d/%b/%Y:%H:%M:%S %z")
        last_slot = last.astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")
        p.wait_for("the log's last hour of events", lambda: any(e["time"] == last_slot for e in p.read("events")),
                   timeout=240)
        # Then the last day's own slot (the events its hours could not hold), once the day is over by
        # the wall clock: the log's days are long past.
        last_day = last.astimezone(UTC).strftime("%Y-%m-%dT00:00:00Z")
        p.wait_for("the log's last day's own slot", lambda: any(
            e.get("span") == "1d" and e["time"] == last_day for e in p.read("events")), timeout=240)
        events = {e["id"]: e for e in p.read("events")}
        ids = event_ids(p, located, LOG.lines)
        paired = [(e, LOG.truth[ids[eid]].client) for eid, e in events.items()]
        # Every id is a line's; the window owners' check writes coarser, or refuses, the events over
        # its share cap and those the two workers let in before hearing of each other (counted
        # withheld): how many depends on how far apart the workers run.
        assert len(paired) == len(events) > 0.6 * len(LOG.lines)
        # One client is one client to the window owners, whichever worker keyed it: a worker started
        # later once took a period's key created last, not the one the others used.
        keyed: dict[tuple[str, str], set[int]] = {}
        for partial in p.read("partials"):
            if partial.get("span") == "events" and "events" in partial:
                for event, client in zip(partial["events"], partial["clients"], strict=True):
                    keyed.setdefault((LOG.truth[ids[event["id"]]].client, event["time"][:10]), set()).add(client)
        split = [who for who, hashes in keyed.items() if len(hashes) > 1]
        assert keyed and not split, f"{len(split)} (client, day)s keyed as several clients"
        figures = linkability([e for e, _ in paired], [c for _, c in paired])
        assert figures.linked <= 0.01, figures.render()
        assert figures.dominated == 0.0 and figures.linked_by_request <= 0.01, figures.render()
        assert figures.linked_by_fewer <= 0.01, figures.render()
        assert figures.path_kept >= 0.6, figures.render()
        assert figures.browser_kept >= 0.75, figures.render()
        print(figures.render())
    finally:
        p.stop_all()
