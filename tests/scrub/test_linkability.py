"""Invariant 2, measured: on generated logs with known visitors, no published group of events
follows one client (grouped by the client fields per day, and per published time), while most
events keep their path and browser.

The log is as hard as the real one it was calibrated on (bench/test_visitors.py): today's fields
before k-anonymity linked ~87% of its events. Each event is paired with the line it came from.
"""

from __future__ import annotations

import pytest

from bench.linkability import scrub, write_geoip
from bench.visitors import generate

LOG = generate(days=4, visitors_per_day=190, seed=1)


@pytest.fixture(scope="module")
def geoip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_geoip(LOG, tmp_path_factory.mktemp("geoip"))


@pytest.mark.parametrize("with_geoip", [False, True], ids=["no GeoIP", "GeoIP"])
def test_at_most_one_percent_of_events_are_linked_with_the_default_config(with_geoip, request):
    env = request.getfixturevalue("geoip") if with_geoip else {}
    scrubbed = scrub(LOG, env)
    figures = scrubbed.by_address()
    assert figures.events > 8000
    # The price of the owner's share cap in every group, projection and split, within the hour and
    # the day. An event its hour cannot hold waits for the day's own slot rather than lose its
    # browser: measured 3.3% withheld, browser kept 75.1%, 64.6% published by the day (46.1% and
    # 16.9% withheld when such events were written coarser in their hour; docs/privacy.md).
    assert scrubbed.withheld <= 0.05 * len(LOG.lines)
    assert figures.linked <= 0.01, figures.render()
    assert figures.dominated == 0.0, figures.render()
    assert figures.linked_by_request <= 0.01, figures.render()
    assert figures.linked_by_fewer <= 0.01, figures.render()
    assert figures.path_kept >= 0.60, figures.render()
    assert figures.browser_kept >= 0.75, figures.render()


@pytest.mark.parametrize("visitors, seed", [(60, 1), (60, 2), (800, 1)])
def test_no_group_follows_one_client_at_other_sizes_either(visitors, seed):
    """The 190-a-day log pins what events keep; smaller and bigger sites must be as unlinkable. Per
    day split by the section, 1.6% of events were linked at 60 a day, seed 2, while that split was
    not capped per day (red-team round 9)."""
    figures = scrub(generate(days=4, visitors_per_day=visitors, seed=seed)).by_address()
    assert figures.linked <= 0.01 and figures.dominated == 0.0, figures.render()
    assert figures.linked_by_request <= 0.01 and figures.linked_by_fewer <= 0.01, figures.render()


def test_a_client_network_on_events_is_the_cost_the_docs_state():
    """events.client: network publishes a /24 or /48 that most clients have alone (docs/privacy.md)."""
    figures = scrub(LOG, {"LOGSCRUB_EVENTS__CLIENT": "network"}).by_address()
    assert figures.linked > 0.5
    assert figures.linked_without_client <= 0.01


@pytest.mark.parametrize("visitors", [60, 190])
def test_logscrub_scrub_publishes_what_the_measure_saw(visitors, tmp_path):
    """The measure drives the scrubber and the owner's slots itself; ``scrub`` on the same log must
    publish as many events, as many of them with their day, and withhold as many lines. At 60 a
    day one batch of lines spans four days: each day's own slot must be out before the fourth day's
    slots prune its counts (red-team round 8: 998 of 4,408 lines withheld)."""
    import json

    from logscrub import config
    from logscrub.run.scrub_files import scrub as scrub_files

    generated = LOG if visitors == 190 else generate(days=4, visitors_per_day=visitors, seed=1)
    measured = scrub(generated)
    log = tmp_path / "access.log"
    log.write_text("\n".join(generated.lines) + "\n")
    summary = scrub_files(config.load(None, env={}), [str(log)], tmp_path / "out", progress=False,
                          keys=tmp_path / "keys" / "keys.json")
    events = [json.loads(line) for line in (tmp_path / "out" / "analytics.events.jsonl").open()]
    by_day = sum(e.get("span") == "1d" for e in events)
    assert (len(events), by_day, summary.withheld) == (
        len(measured.events), sum(e.get("span") == "1d" for e in measured.events), measured.withheld)
    assert by_day > 0 and summary.not_over == 0
