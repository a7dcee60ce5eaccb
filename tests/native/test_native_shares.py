"""The window owner's share cap on compiled counts (``logscrub._native.ShareCounts``) against the
reference's (``slots._Counts``): the same events written, coarsened and withheld, slot by slot."""

from __future__ import annotations

import orjson
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
    odd = ["/shop/cart", "/", "/a", "relative", None, 7, "/\ud800x/y", "\ud800/x", "", "//x"]
    events = [
        {"site": "s", "browser": "Firefox", "path": path, "referrer_domain": "r.example", "referrer_class": "web",
         "status_class": "2xx", "method": "GET", "protocol": "HTTP/1.1"}
        for path in odd
    ] + [{}]  # every field missing: null
    events.append(slots.held_event(orjson.dumps(events[0])))  # as the owner holds the compiled core's
    todo = [(i, i % 3) for i in range(len(events))]
    reference = slots._Counts(slots.MAX_PAIRS)
    compiled = slots._counts()
    assert type(compiled) is not slots._Counts
    want = reference.choose_events(slots._Counts(slots.MAX_PAIRS), None, events, todo, True)
    got = compiled.choose_events(slots._counts(), None, events, todo, True)
    assert got == want
    assert [r[-1] for r in got[3]] == ["shop", "", "a", "relative", None, 7, "\ud800x", "\ud800/x", "", "", None, "shop"]


def _both(events: list[dict], todo: list[tuple[int, object]]) -> list[object]:
    """``choose_events`` of the reference's counts and the compiled ones (or the error each raised)."""
    out: list[object] = []
    for counts in (lambda: slots._Counts(slots.MAX_PAIRS), slots._counts):
        try:
            out.append(counts().choose_events(counts(), None, events, todo, True)[:2])
        except TypeError as e:
            out.append(f"TypeError: {e}")
    return out


def test_a_copy_not_tried_is_never_hashed_by_either():
    """A replayed line's second copy (same id) is not in ``todo``: the reference never hashes its
    client fields, and the compiled counts raised on one they could not hash, where the reference
    went on (red-team of a737c92, F1)."""
    events = [{"id": "x", "site": "s", "browser": "Firefox", "path": "/a"}, {"id": "x", "site": "s", "browser": ["F"]}]
    reference, compiled = _both(events, [(0, 1)])
    assert reference == compiled == ([(0, -1)], [])


def test_clients_are_told_apart_by_their_hash_in_turns_too():
    """Both counts tell clients apart by their hash; the reference's turns told them apart by
    equality, so two clients hashing alike (-1 and -2 in CPython) were taken in another order (F2)."""
    events = [{"site": "s", "browser": "Firefox", "path": "/a"}] * 3
    for clients in ([-1, -2, -1], [0, 2**61 - 1, 0]):
        reference, compiled = _both(events, list(enumerate(clients)))
        assert reference == compiled
        assert reference[0] == [(0, -1)]  # the first event only: one client, as the counts see it


def test_a_level_that_changes_no_group_is_skipped_by_both():
    """A level whose values hash as the event's own changes no group the event counts in: the
    compiled counts, which compare hashes, skipped it, and the reference, comparing values, tried
    it again once other events had joined (F3)."""
    major = hash(None)  # what the first coarser step shows in browser_major, hashed
    events = [{"site": site, "browser": "F", "browser_major": major, "path": "/a"} for site in "ssstus"]
    todo = [(0, "A"), (1, "A"), (2, "B"), (3, "C"), (4, "C"), (5, "C")]
    reference, compiled = _both(events, todo)
    assert reference == compiled
