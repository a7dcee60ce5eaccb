"""The window owner's share cap on compiled counts (``logscrub._native.ShareCounts``) against the
reference's (``slots._Counts``): the same events written, coarsened and withheld, slot by slot."""

from __future__ import annotations

import pytest

from corpora import needs_native
from logscrub.scrub import slots

pytestmark = needs_native


def _owner_choices(monkeypatch: pytest.MonkeyPatch, compiled: bool) -> tuple[list, int, int]:
    from bench.linkability import scrub
    from bench.visitors import generate

    if not compiled:
        monkeypatch.setattr(slots, "_counts", lambda: slots._Counts(slots.MAX_PAIRS))
    made = []
    choose = slots.Groups.choose

    def recorded(self, site, start, events, clients, *rest):  # type: ignore[no-untyped-def]
        kept = choose(self, site, start, events, clients, *rest)
        deferred = rest[1] if len(rest) > 1 and rest[1] is not None else []
        made.append((start, [(i, tuple(e.get(f) for f in slots.CLIENT_FIELDS)) for i, e in kept], list(deferred)))
        return kept

    monkeypatch.setattr(slots.Groups, "choose", recorded)
    scrubbed = scrub(generate(days=2, visitors_per_day=120, seed=4))
    monkeypatch.undo()
    return made, len(scrubbed.events), scrubbed.withheld


def test_the_compiled_counts_choose_as_the_reference(monkeypatch):
    reference = _owner_choices(monkeypatch, compiled=False)
    compiled = _owner_choices(monkeypatch, compiled=True)
    assert reference[1] > 1000 and reference[2] > 0
    assert compiled == reference


def test_the_compiled_counts_read_an_event_s_fields_as_the_reference():
    """``choose_events`` reads each event's client and request fields in Rust: the same tuples as
    ``_described`` and ``_splits``, whatever the path (none, not a path, a lone surrogate), and the
    same choice."""
    odd = ["/shop/cart", "/", "/a", "relative", None, 7, "/\ud800x/y", "\ud800/x", ""]
    events = [
        {"site": "s", "browser": "Firefox", "path": path, "referrer_domain": "r.example", "referrer_class": "web",
         "status_class": "2xx", "method": "GET", "protocol": "HTTP/1.1"}
        for path in odd
    ] + [{}]  # every field missing: null
    todo = [(i, i % 3) for i in range(len(events))]
    reference = slots._Counts(slots.MAX_PAIRS)
    compiled = slots._counts()
    assert type(compiled) is not slots._Counts
    want = reference.choose_events(slots._Counts(slots.MAX_PAIRS), None, events, todo, True)
    got = compiled.choose_events(slots._counts(), None, events, todo, True)
    assert got == want
    assert [r[-1] for r in got[3]] == ["shop", "", "a", "relative", None, 7, "\ud800x", "\ud800/x", "", None]
