"""The local driver: every line lands in exactly one output file, in input order."""

import gc

import orjson

from logscrub.config import load
from logscrub.run.scrub_files import scrub
from bench.sample import generate


def test_every_line_is_written_once_in_order(tmp_path):
    n = 17_000  # past the first periodic step (16384 lines: key expiry, windows closed)
    src = tmp_path / "in.log"
    src.write_text("\n".join(generate(n, clients=500, user_agents=50)) + "\n")
    summary = scrub(load(None, env={}), [str(src)], tmp_path / "out", progress=False)
    out = {p.name: p.read_bytes().splitlines() for p in (tmp_path / "out").glob("*.jsonl")}
    sealed = [orjson.loads(r)["src"] for r in out["security.raw.jsonl"]]
    rejected = [orjson.loads(r)["src"] for r in out["logs.rejected.jsonl"]]
    assert sorted(map(int, sealed + rejected)) == list(range(1, n + 1))
    assert sealed == sorted(sealed, key=int)
    assert len(out["analytics.events.jsonl"]) == len(sealed) == summary.events
    assert len(rejected) == sum(summary.rejected.values()) and rejected
    assert summary.lines == n and summary.accounted


def test_garbage_collector_settings_are_given_back(tmp_path):
    before = gc.get_threshold(), gc.get_freeze_count()  # not 0 on 3.12: it starts with objects frozen
    src = tmp_path / "in.log"
    src.write_text("\n".join(generate(10)) + "\n")
    scrub(load(None, env={}), [str(src)], tmp_path / "out", progress=False)
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
