"""Claims carry their measurement (issue 18): where the README states a privacy bound or a default,
it is the bound the named test holds, or the default the code has. The measured figures themselves
are generated into the docs from the bench results (bench/docs.py, test_doc_blocks.py)."""

from __future__ import annotations

import re

import pytest

from bench import docs as bench_docs
from doc_examples import ROOT
from logscrub.config import ConfigError, Config, load
from logscrub.run import ship

README = (ROOT / "README.md").read_text()


def _row(name: str) -> str:
    (row,) = [line for line in README.splitlines() if line.startswith(f"| {name} |")]
    return row


def test_the_linkability_bounds_the_readme_and_the_figures_state_are_those_the_test_holds() -> None:
    test = (ROOT / "tests" / "scrub" / "test_linkability.py").read_text()
    linked = float(re.search(r"figures\.linked <= ([\d.]+)", test)[1])
    path = float(re.search(r"figures\.path_kept >= ([\d.]+)", test)[1])
    browser = float(re.search(r"figures\.browser_kept >= ([\d.]+)", test)[1])
    said = re.search(r"at most (\d+)% of events are linked to one client, while at least (\d+)% keep their path "
                     r"and (\d+)% their browser", _row("no one followed"))
    assert said, _row("no one followed")
    assert [int(x) / 100 for x in said.groups()] == [linked, path, browser]
    figures = bench_docs.linkability({"when": "x", "privacy": {
        "log": {"days": 4, "visitors_per_day": 190, "lines": 1}, "events": [],
        "aggregates": {"records": 1, "buckets_held_back": 0, "held_back_share": 0.0}}})
    assert f"at most {linked:.0%} linked, {path:.0%} of paths and {browser:.0%} of browsers kept" in figures


def test_the_defaults_the_readme_names_are_the_configs() -> None:
    cfg = Config()
    assert "k=5" in _row("small groups") and cfg.aggregate.k == 5
    assert "truncated to /24 and /48 (at most /24 and /64)" in _row("IP addresses")
    assert (cfg.ip.ipv4_prefix, cfg.ip.ipv6_prefix) == (24, 48)
    for key, value in (("IP__IPV4_PREFIX", "25"), ("IP__IPV6_PREFIX", "65")):
        with pytest.raises(ConfigError):
            load(None, env={f"LOGSCRUB_{key}": value})
    load(None, env={"LOGSCRUB_IP__IPV4_PREFIX": "24", "LOGSCRUB_IP__IPV6_PREFIX": "64"})
    assert "a data key that rotates hourly" in README and cfg.keys.data_rotation == 3600
    assert "(7 days by default)" in README and cfg.security.window == 7 * 86400
    assert "whose key rotates daily" in _row("visitors") and cfg.keys.visitor_rotation == 86400
    assert "beyond the 20,000 kept in memory" in README and ship.MAX_UNACKED == 20_000


def test_the_readme_scales_compose_workers_up_to_the_partitions_compose_gives() -> None:
    from doc_examples import COMPOSE

    said = re.search(r"--scale worker=\d+ +# more workers, up to (\d+): the partitions compose gives logs\.raw", README)
    assert said
    topics = COMPOSE["x-topics"]
    assert int(topics["LOGSCRUB_TOPICS__RAW__PARTITIONS"]) == int(said[1])
