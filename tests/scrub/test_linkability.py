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
    # The price of the rules within each hour and of the owner's share cap in every group, projection
    # and split (measured 16.9% withheld, browser kept 46.1%, 46.6% with GeoIP; the issue asked 75%,
    # set before the hour, request fields and projections were found to follow sessions:
    # docs/privacy.md).
    assert scrubbed.withheld <= 0.19 * len(LOG.lines)
    assert figures.linked <= 0.01, figures.render()
    assert figures.dominated == 0.0, figures.render()
    assert figures.linked_by_request <= 0.01, figures.render()
    assert figures.linked_by_fewer <= 0.01, figures.render()
    assert figures.path_kept >= 0.60, figures.render()
    assert figures.browser_kept >= 0.44, figures.render()


def test_a_client_network_on_events_is_the_cost_the_docs_state():
    """events.client: network publishes a /24 or /48 that most clients have alone (docs/privacy.md)."""
    figures = scrub(LOG, {"LOGSCRUB_EVENTS__CLIENT": "network"}).by_address()
    assert figures.linked > 0.5
    assert figures.linked_without_client <= 0.01
