"""The compiled per-line loop against the reference (``Scrubber.process`` and ``Routed``), as the
drivers run both: byte-identical sealed lines, rejections and held events (given the same keys,
nonces and subject-key randomness), identical aggregates, partial sums, sightings, counts and
subject-key records, on the generated logs, the hostile inputs, the fuzz corpus and the canaries,
under the configurations that change what the loop does."""

from __future__ import annotations

import ipaddress

import pytest

from corpora import canary_lines, fuzz_inputs, hostile_lines, needs_native, sample_lines, visitor_lines
from twins import Outputs, both, config

pytestmark = needs_native


def same(reference: Outputs, compiled: Outputs) -> None:
    """Output by output, so that a failure names the first that differs (without printing lines)."""
    for role in reference.records:
        assert reference.records[role] == compiled.records[role], role
    assert reference.held == compiled.held, "held events"
    assert reference.traffic == compiled.traffic, "traffic"
    assert reference.partials == compiled.partials, "partial sums"
    assert reference.sightings == compiled.sightings, "sightings"
    assert reference.subject_records == compiled.subject_records, "subject keys"
    assert reference.counts == compiled.counts, "counts"


def _bytes(lines: tuple[str, ...]) -> list[bytes]:
    return [line.encode("utf-8", "surrogateescape") for line in lines]


def test_generated_log_as_scrub_writes_it(monkeypatch):
    ref, nat = both(config(), _bytes(sample_lines()), monkeypatch)
    assert ref.counts["events"] > 10_000 and ref.held
    same(ref, nat)


@pytest.mark.parametrize("env", [
    {},
    {"LOGSCRUB_EVENTS__TIME_GRANULARITY": "60", "LOGSCRUB_AGGREGATE__K": "2"},
    {"LOGSCRUB_EVENTS__CLIENT": "pseudonym", "LOGSCRUB_EVENTS__TIME_GRANULARITY": "86400"},
])
def test_known_visitors_over_days_as_the_raw_loop_runs_them(monkeypatch, env):
    """Four days: key changes, yesterday's vocabulary seeding today's, withheld lines, group joins."""
    ref, nat = both(config(**env), _bytes(visitor_lines()), monkeypatch, batch=1000, worker=True)
    assert ref.counts["withheld"] > 0 and ref.counts["events"] > 0
    same(ref, nat)


def test_known_visitors_as_scrub_writes_them(monkeypatch):
    ref, nat = both(config(LOGSCRUB_EVENTS__TIME_GRANULARITY="600"), _bytes(visitor_lines()), monkeypatch, batch=777)
    same(ref, nat)


def test_hostile_inputs_and_canaries(monkeypatch):
    lines = _bytes(hostile_lines()) + _bytes(canary_lines())
    ref, nat = both(config(), lines, monkeypatch, batch=64)
    same(ref, nat)


@pytest.mark.parametrize("fmt", ["auto", "combined", "json"])
def test_fuzz_corpus(monkeypatch, fmt):
    lines = [data[1:] for data in fuzz_inputs()]
    ref, nat = both(config(fmt=fmt), lines, monkeypatch, batch=50, sources=None if fmt == "json" else str)
    same(ref, nat)


def test_restricted_clients_and_no_sources(monkeypatch):
    banned = ipaddress.ip_network("10.0.0.0/8")

    def restricted(packed: bytes) -> bool:
        return len(packed) == 4 and ipaddress.ip_address(packed) in banned

    lines = _bytes(sample_lines()[:5000])
    ref, nat = both(config(), lines, monkeypatch, sources=None, restricted=restricted)
    same(ref, nat)
