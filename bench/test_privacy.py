"""The linkability measure (invariant 2) on hand-made events whose answers are known."""

from __future__ import annotations

from typing import Any

import pytest

from bench.privacy import Figures, linkability, linked_events

DAY = "2026-11-23T10:00:00Z"
NEXT_DAY = "2026-11-24T10:00:00Z"


def ev(time: str = DAY, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "time": time, "site": "default", "client": "198.51.100.0/24", "browser": "Firefox",
        "browser_major": "145", "os": "Linux", "os_major": None, "device": "desktop", "bot": False,
        "path": "/", "country": None, "asn": None, "as_org": None,
    }
    base.update(fields)
    return base


def test_one_event_alone_is_not_linked() -> None:
    f = linkability([ev()], ["198.51.100.7"])
    assert f.linked == 0.0 and f.linked_without_client == 0.0
    assert f.smallest_group == 1 and f.groups == 1


def test_two_events_of_one_client_are_linked() -> None:
    f = linkability([ev(), ev(path="/about")], ["198.51.100.7", "198.51.100.7"])
    assert f.linked == 1.0 and f.linked_without_client == 1.0


def test_two_clients_in_a_group_are_not_linked() -> None:
    f = linkability([ev(), ev(), ev()], ["198.51.100.7", "198.51.100.7", "198.51.100.9"])
    assert f.linked == 0.0
    assert f.smallest_group == 2


def test_days_split_groups() -> None:
    f = linkability([ev(DAY), ev(NEXT_DAY)], ["198.51.100.7", "198.51.100.7"])
    assert f.linked == 0.0 and f.groups == 2


def test_day_is_the_utc_day_of_the_time() -> None:
    # 23:30 at -05:00 is the next UTC day; epoch seconds and milliseconds are read as well.
    same_utc_day = [ev("2026-11-24T04:30:00+00:00"), ev("2026-11-23T23:30:00-05:00")]
    assert linkability(same_utc_day, ["a", "a"]).linked == 1.0
    epoch = 1_795_428_000  # 2026-11-23T10:00:00Z (UTC day 2026-11-23)
    assert linkability([ev(epoch), ev(DAY)], ["a", "a"]).linked == 1.0
    assert linkability([ev(epoch * 1000), ev(DAY)], ["a", "a"]).linked == 1.0
    assert linkability([ev(epoch + 86_400), ev(DAY)], ["a", "a"]).linked == 0.0


def test_any_client_field_splits_a_group_and_request_fields_do_not() -> None:
    clients = ["198.51.100.7", "198.51.100.7"]
    for field, value in [("browser_major", "144"), ("os", "Windows"), ("country", "DE"), ("asn", 64500),
                         ("as_org", "Example"), ("device", "mobile"), ("bot", True), ("site", "b.example")]:
        assert linkability([ev(), ev(**{field: value})], clients).linked == 0.0, field
    for field, value in [("path", "/about"), ("status", 404), ("referrer_domain", "example.com")]:
        assert linkability([ev(), ev(**{field: value})], clients).linked == 1.0, field


def test_without_client_merges_networks() -> None:
    # Two networks: each is its own group (both linked); without the network they share one.
    events = [ev(client="198.51.100.0/24"), ev(client="198.51.100.0/24"),
              ev(client="203.0.113.0/24"), ev(client="203.0.113.0/24")]
    clients = ["198.51.100.7", "198.51.100.7", "203.0.113.5", "203.0.113.5"]
    f = linkability(events, clients)
    assert f.linked == 1.0
    assert f.linked_without_client == 0.0


def test_an_absent_field_counts_as_null() -> None:
    a, b = ev(), ev()
    del b["country"]
    assert linkability([a, b], ["x", "x"]).linked == 1.0


def test_linked_share_counts_events_not_groups() -> None:
    # A linked group of 3, an unlinked pair from two clients, a lone event: 3 of 6 linked.
    events = [ev(browser_major="1")] * 3 + [ev(browser_major="2")] * 2 + [ev(browser_major="3")]
    clients = ["a", "a", "a", "b", "c", "d"]
    f = linkability(events, clients)
    assert f.linked == pytest.approx(0.5)
    assert linked_events(events, clients) == [0, 1, 2]


def test_kept_path_and_browser() -> None:
    events = [ev(path="/users/{param}"), ev(path="(rare)"), ev(path=None), ev(path="/"),
              ev(browser="(rare)"), ev(browser=None), ev(browser="(hidden)")]
    f = linkability(events, list("abcdefg"))
    assert f.path_kept == pytest.approx(5 / 7)  # templates are kept; the placeholder and null are not
    assert f.browser_kept == pytest.approx(5 / 7)
    custom = linkability(events, list("abcdefg"), placeholders=("(rare)", "(hidden)"))
    assert custom.browser_kept == pytest.approx(4 / 7)


def test_visitor_ids_measure_the_stricter_variant() -> None:
    # One visitor on two addresses of one network: not linked by address, linked by visitor.
    events = [ev(), ev()]
    assert linkability(events, ["198.51.100.7", "198.51.100.8"]).linked == 0.0
    assert linkability(events, [17, 17]).linked == 1.0


def test_empty_and_mismatched_inputs() -> None:
    assert linkability([], []) == Figures(0, 0.0, 0.0, 0.0, 0.0, 0, 0)
    with pytest.raises(ValueError, match="pair up"):
        linkability([ev()], [])


def test_a_trail_plus_one_decoy_is_dominated_and_splits_apart() -> None:
    """Red-team round 3: four events of one client and one of another share their client fields:
    not linked as grouped, but dominated, and linked once split by the referrer."""
    trail = [ev(referrer_domain="example.org", referrer_class="internal", path=f"/p{i}") for i in range(4)]
    events, clients = [*trail, ev(referrer_domain=None, referrer_class="none")], ["a"] * 4 + ["b"]
    f = linkability(events, clients)
    assert f.linked == 0.0 and f.dominated == 1.0
    assert f.linked_by_request == 0.8 and f.worst_split == "referrer"


def test_one_event_per_level_is_linked_by_fewer_fields() -> None:
    """Red-team round 5: a client alone got one event per description level, each group its own,
    each showing its browser: grouped by browser they are one client's."""
    levels = [ev(), ev(browser_major=None), ev(browser_major=None, os="(rare)", device=None, bot=None)]
    f = linkability(levels, ["a"] * 3)
    assert f.linked == 0.0 and f.linked_by_fewer == 1.0 and f.worst_fewer.startswith("browser")
    assert linkability(levels, ["a", "b", "c"]).linked_by_fewer == 0.0
