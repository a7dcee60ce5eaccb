"""A batch's events are written in random order, not in the order of the raw lines (README, "What it
guarantees"; docs/schema.md): the order of events would otherwise line them up with the sealed lines
beside them, which are written in input order."""

import orjson

from bench.sample import generate
from logscrub.config import load
from logscrub.run.scrub_files import scrub


def test_events_are_not_in_the_order_of_their_lines(tmp_path):
    src = tmp_path / "in.log"
    lines = generate(3000, clients=300, user_agents=50)  # in time order, over many minutes
    src.write_text("\n".join(lines) + "\n")
    summary = scrub(load(None, env={}), [str(src)], tmp_path / "out", progress=False, keys=tmp_path / "k" / "keys.json")
    times = [orjson.loads(r)["time"] for r in (tmp_path / "out" / "analytics.events.jsonl").read_bytes().splitlines()]
    assert len(times) == summary.events > 2500
    assert len(set(times)) > 10  # many minutes, so the input order shows in them unless shuffled
    assert times != sorted(times)
    # No long run of the input order survives: in order, nearly every step would keep or advance the minute.
    steps_back = sum(b < a for a, b in zip(times, times[1:]))
    assert steps_back > len(times) / 10
