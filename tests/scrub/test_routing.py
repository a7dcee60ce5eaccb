"""Where a scrubbed line's records go (``scrub/routing.py``)."""

from __future__ import annotations

import time

from logscrub import config
from logscrub.scrub import build
from logscrub.scrub.routing import Routed

LINE = b'198.51.100.7 - - [28/Nov/2026:10:00:00 +0000] "GET /about HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64)"'


def test_an_event_showing_no_site_is_held_by_the_rare_site_s_owner():
    """The first line of a day shows nothing k clients showed: every client field (rare), the site
    too. Held under its own site, its owner's share cap would not cover it beside other sites'
    (rare) events, which share its published group (red-team round 11, F2)."""
    cfg = config.load(None, env={})
    visitor, data = build.key_rings(cfg, None)
    scrubber = build.scrubber(cfg, "combined", visitor, data)
    routed = Routed(build.aggregator(cfg.aggregate))
    outcome = scrubber.process(LINE, time.time())
    assert outcome.event is not None and outcome.update is not None
    routed.add(outcome)
    assert outcome.event["site"] == "(rare)" and outcome.update.site != "(rare)"  # the aggregates keep the site
    assert [site for site, _ in routed.held] == ["(rare)"]
