"""Invariant 9 without a broker: `scrub` on a file, and the worker's path for the same file as
`logscrub ship` sends it (lines cut at max_line_bytes + 1, no newline, then unwrap and the core),
take the same decision for every line. tests/integration/test_same_answer.py runs a real worker."""

from __future__ import annotations

import time
from collections import Counter

import orjson

from hostile_file import write_hostile_file
from logscrub.config import load
from logscrub.crypto.keyfile import KeyFile
from logscrub.crypto.subjects import SubjectKeys
from logscrub.files.follow import Follower
from logscrub.parsing.shipped import unwrap
from logscrub.responders.search import Keys, Query, Raw, search
from logscrub.run.scrub_files import scrub
from logscrub.scrub import build
from logscrub.scrub.routing import Routed
from logscrub.scrub.windows import Emission


def opened(records: dict[str, list[bytes]], keys: Keys, cfg) -> Counter:
    """(topic, reason, line) of every sealed record: what each line became in the raw zone."""
    raws = [Raw(topic, None, n, value) for topic, values in records.items() for n, value in enumerate(values, 1)]
    found, counts = search(raws, keys, Query(), build.parser(cfg.input))
    assert counts["matched"] == counts["read"] == len(raws), counts  # every record opens
    return Counter((r["topic"], r["reason"], r["line"]) for r in found)


def events(records: list[bytes]) -> Counter:
    """Events as a multiset, without ``id``: a hash of where the line came from (a line number in
    `scrub`, partition:offset on Kafka) keyed with the run's own visitor key, so it differs by design."""
    out: Counter = Counter()
    for r in records:
        event = orjson.loads(r)
        assert len(event.pop("id")) == 20
        out[orjson.dumps(event, option=orjson.OPT_SORT_KEYS)] += 1
    return out


def test_scrub_and_the_shipped_path_give_every_line_the_same_answer(tmp_path):
    cfg = load(None, env={})  # input.format: auto
    max_line = cfg.input.max_line_bytes
    log = tmp_path / "access.log"
    write_hostile_file(log, max_line)

    # `scrub`, as a user runs it
    keys = tmp_path / "state" / "keys.json"
    out = tmp_path / "out"
    summary = scrub(cfg, [str(log)], out, progress=False, keys=keys)
    files = {role: (out / f"{getattr(cfg.topics, role).name}.jsonl").read_bytes().splitlines()
             for role in ("events", "security", "rejected")}  # fmt: skip
    state = KeyFile(keys).read()
    scrub_keys = Keys(lambda kid: state.key("data", kid, time.time()), state.subjects, state.erased)

    # the worker's path: the shipper's lines, unwrapped and scrubbed in the same order
    visitor, data = build.key_rings(cfg, None)
    subjects = SubjectKeys()
    scrubber = build.scrubber(cfg, cfg.input.format, visitor, data, subjects)
    owner = build.window_owner(cfg.aggregate, cfg.events.time_granularity)
    routed = Routed(owner.base)
    follower = Follower([str(log)], follow=False, max_line=max_line + 1)
    shipped = []
    try:
        while not follower.exhausted:
            shipped += [line.data for line in follower.read()]
    finally:
        follower.close()
    for n, value in enumerate(shipped):
        routed.add(scrubber.process(unwrap(value, scrubber.max_line), 1.0, f"0:{n}"))
    worker, held = routed.take()
    released = owner.settle(Emission(forward=held), 1.0).events + owner.finish(1.0).events
    worker["events"] = [orjson.dumps(e) for e in released]
    wrapped: dict[str, dict[str, bytes]] = {}
    for record, value in subjects.take_pending():
        _, kid, skid = record.split("/", 2)
        wrapped.setdefault(kid, {})[skid] = value
    worker_keys = Keys(data.get, wrapped, {})

    assert len(shipped) == summary.lines
    assert events(files["events"]) == events(worker["events"])
    assert summary.rejected == routed.rejected
    assert {"no_match", "empty", "too_long", "bad_status", "bad_time"} <= set(routed.rejected)
    scrubbed = opened({"security": files["security"], "rejected": files["rejected"]}, scrub_keys, cfg)
    assert scrubbed == opened({"security": worker["security"], "rejected": worker["rejected"]}, worker_keys, cfg)
