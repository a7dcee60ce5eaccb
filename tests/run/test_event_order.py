"""A slot's events are written together in random order, not in the order of their lines (README,
"What it guarantees"; docs/schema.md): the order of events would otherwise be a clock finer than
the slot, and line them up with the sealed lines beside them, which are written in input order."""

import re

import orjson

from bench.sample import generate
from logscrub.config import load
from logscrub.run.scrub_files import scrub


def test_events_are_not_in_the_order_of_their_lines(tmp_path):
    src = tmp_path / "in.log"
    # Each line's response size is its number: the one field an event copies as it is.
    lines = [re.sub(r'" (\d{3}) (\d+|-) "', rf'" \1 {i} "', line, count=1)
             for i, line in enumerate(generate(3000, clients=300, user_agents=50))]
    src.write_text("\n".join(lines) + "\n")
    summary = scrub(load(None, env={}), [str(src)], tmp_path / "out", progress=False, keys=tmp_path / "k" / "keys.json")
    events = [orjson.loads(r) for r in (tmp_path / "out" / "analytics.events.jsonl").read_bytes().splitlines()]
    assert len(events) == summary.events > 2500
    numbers = [e["bytes"] for e in events]
    assert sorted(numbers) != numbers and len(set(numbers)) == len(numbers)
    # No long run of the input order survives: in order, every step would go forward.
    steps_back = sum(b < a for a, b in zip(numbers, numbers[1:]))
    assert steps_back > len(numbers) / 3
