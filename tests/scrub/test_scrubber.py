"""The pure core, one privacy invariant at a time (DESIGN.md, 'Privacy invariants')."""

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from logscrub.crypto import envelope
from logscrub.scrub import build
from logscrub.config import load

LINE = (
    '{ip} - - [28/Nov/2026:10:{m:02d}:{s:02d} +0000] "GET /products/12345?page=2&session=abc HTTP/1.1" 200 512 '
    '"https://www.google.com/search?q=x" "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"'
)
EVENT_FIELDS = {
    "schema", "id", "time", "site", "method", "path", "protocol", "status", "status_class", "bytes",
    "country", "asn", "as_org", "browser", "browser_major", "os", "os_major", "device", "bot",
    "referrer_domain", "referrer_class",
}
K = 5  # the default k


def scrubber(fmt="combined", **env):
    cfg = load(None, env=env)
    visitor, data = build.key_rings(cfg, None)
    return build.scrubber(cfg, fmt, visitor, data)


def line(ip="203.0.113.77", m=0, s=7):
    return LINE.format(ip=ip, m=m, s=s).encode()


def crowded(s):
    """``s`` once another client's event sits in the group showing no field: from then on a client's
    events there are not alone, and none is withheld (its path and agent count for nothing else)."""
    s.process(b'198.51.100.250 - - [28/Nov/2026:10:00:00 +0000] "GET /crowd HTTP/1.1" 200 1 "-" "crowd/1"', 1e9)
    return s


def shared(s, ip_format="203.0.113.{}", clients=K, **kw):
    """The outcome once ``clients`` distinct clients sent the line: its values are then publishable."""
    for i in range(1, clients + 1):
        o = s.process(line(ip_format.format(i), **kw), 1e9, f"0:{i}")
    return o


def test_event_is_built_from_the_allowlist_only():
    o = shared(scrubber())
    assert o.reason is None
    assert set(o.event) == EVENT_FIELDS  # no 'query' (not allowlisted), no client by default, no raw fields
    assert o.event["path"] == "/products/{id}"
    assert o.event["referrer_domain"] == "google.com" and o.event["referrer_class"] == "search"
    assert (o.event["browser"], o.event["browser_major"], o.event["os"], o.event["device"]) == (
        "Firefox", "128", "Windows", "desktop")


def test_the_first_client_of_a_day_publishes_no_description_path_or_referrer():
    o = scrubber().process(line(), 1e9, "0:1")
    assert (o.event["browser"], o.event["os"], o.event["site"], o.event["device"]) == ("(rare)",) * 4
    assert (o.event["browser_major"], o.event["os_major"], o.event["bot"]) == (None, None, None)
    assert o.event["path"] == "(rare)" and o.event["referrer_domain"] == "(rare)"
    assert o.event["referrer_class"] == "search"  # five classes: nobody's own
    assert dict(o.update.dims)["path"] == "/products/{id}"  # aggregates have their own k rule


def test_one_address_is_one_client_however_often_it_comes():
    s = crowded(scrubber())
    for i in range(20):
        o = s.process(line(m=i), 1e9, f"0:{i}")
    assert o.event["path"] == "(rare)" and o.event["browser"] == "(rare)"


def test_an_ipv6_device_is_one_client_across_its_64():
    s = crowded(scrubber())
    o = shared(s, "2001:db8:1:2::{}")  # privacy extensions: new interface ids, one /64
    assert o.event["path"] == "(rare)"
    assert shared(s, "2001:db8:1:{}::1").event["path"] == "/products/{id}"  # five /64s: five clients


def test_a_group_never_holds_two_events_of_one_client_alone():
    s = scrubber()
    shared(s)  # k clients: the description, path and referrer are publishable
    # A sixth client whose description nobody else publishes at the finest level today.
    other = LINE.replace("rv:128.0) Gecko/20100101 Firefox/128.0", "rv:91.0) Gecko/20100101 Firefox/91.0")
    first = s.process(other.format(ip="198.51.100.9", m=1, s=0).encode(), 1e9)
    second = s.process(other.format(ip="198.51.100.9", m=2, s=0).encode(), 1e9)
    assert first.event["browser_major"] is None or second.event["browser_major"] is None
    assert first.event["browser"] == second.event["browser"] == "Firefox"  # a group others share


def test_the_group_showing_no_field_never_holds_two_events_of_one_client_alone():
    """The last resort is a group too: a client's second event there, with nobody else's, is withheld
    (sealed, no event, in no aggregate: a window's requests minus its events would give it back);
    once another client's event is there, none is."""
    s = scrubber()
    first, second = (s.process(line(m=i), 1e9, f"0:{i}") for i in (1, 2))
    assert first.event["browser"] == "(rare)" and first.event["path"] == "(rare)"
    assert second.event is None and second.withheld and second.reason is None
    assert second.update is None and second.sealed["kid"]  # responders still find it
    crowded(s)
    third = s.process(line(m=3), 1e9, "0:3")
    assert third.event is not None and not third.withheld


def test_the_join_rule_is_the_days_the_window_owner_applies_it_within_a_slot():
    """Red-team round 2: a session's requests share their minute, so (client fields, time) groups
    followed people. The window owner applies the rule within the slot (``slots.Groups``), seeing
    every worker's events of it; the scrubber does not coarsen an event for its slot beforehand."""
    s = scrubber()
    shared(s)  # five clients at 10:00: the full description is published today, in a group they share
    at = lambda h, m: LINE.format(ip="198.51.100.7", m=m, s=0).replace("10:", f"{h}:", 1).encode()  # noqa: E731
    first, second = s.process(at(14, 0), 1e9), s.process(at(14, 5), 1e9)
    assert first.event["time"] == second.event["time"] == "2026-11-28T14:00:00Z"
    assert first.event["browser_major"] == second.event["browser_major"] == "128"  # alone in the slot, twice


def test_the_protocol_is_part_of_the_description():
    """HTTP/1.0 against HTTP/2 tells clients apart as a version does: dropped with the majors."""
    s = scrubber()
    shared(s)
    assert s.process(line("198.51.100.8", m=1), 1e9).event["protocol"] == "HTTP/1.1"
    alone = s.process(line("198.51.100.9", m=1).replace(b"HTTP/1.1", b"HTTP/1.0"), 1e9).event
    assert (alone["protocol"], alone["browser_major"]) == (None, None) and alone["browser"] == "Firefox"


def test_client_networks_and_pseudonyms_only_when_asked_for():
    assert "client" not in scrubber().process(line(), 1e9).event
    s = scrubber(LOGSCRUB_EVENTS__CLIENT="network")
    assert s.process(line("203.0.113.77"), 1e9).event["client"] == "203.0.113.0/24"
    assert s.process(line("2001:db8:1:2:3:4:5:6"), 1e9).event["client"] == "2001:db8:1::/48"
    assert s.process(line("::ffff:203.0.113.77"), 1e9).event["client"] == "203.0.113.0/24"
    assert s.process(line("2002:cb00:714d::1"), 1e9).event["client"] == "203.0.113.0/24"  # 6to4: its IPv4
    s16 = scrubber(LOGSCRUB_EVENTS__CLIENT="network", LOGSCRUB_IP__IPV4_PREFIX="16", LOGSCRUB_IP__IPV6_PREFIX="32")
    assert s16.process(line("203.0.113.77"), 1e9).event["client"] == "203.0.0.0/16"
    assert s16.process(line("2001:db8:1:2::6"), 1e9).event["client"] == "2001:db8::/32"


def test_garbage_client_address_still_makes_an_event():
    o = scrubber(LOGSCRUB_EVENTS__CLIENT="network").process(line("not-an-ip"), 1e9)
    assert o.reason is None and o.event["client"] is None


def test_event_ids_are_the_same_for_a_replayed_line_and_say_nothing_of_it():
    s = crowded(scrubber())
    a, again, b = (s.process(line(), 1e9, src).event["id"] for src in ("3:1200", "3:1200", "3:1201"))
    assert a == again != b and "1200" not in a
    assert scrubber().process(line(), 1e9, "3:1200").event["id"] != a  # keyed: another key, another id


def test_record_timestamps_are_the_coarse_time():
    o = scrubber().process(line(m=5, s=59), 1e9)
    assert o.timestamp_ms == 1795860000 * 1000  # 2026-11-28T10:00:00Z: the hour, by default


def test_sites_outside_the_allowlist_are_other():
    s = scrubber("vhost_combined", LOGSCRUB_INPUT__SITES="[www.example.com, '*.example.org']")
    def site(host, i):
        return s.process(f"{host}:443 {line(f'203.0.113.{i}').decode()}".encode(), 1e9).update.site
    assert site("www.example.com", 1) == "www.example.com"
    assert site("shop.example.org", 2) == "shop.example.org"
    assert site("jane-doe.example.net", 3) == "(other)"


def test_pseudonyms_and_visitor_hashes_rotate_daily():
    s = crowded(scrubber(LOGSCRUB_EVENTS__CLIENT="pseudonym"))
    day1 = s.process(line(), 1e9)
    same_day = s.process(line(m=59), 1e9)
    assert day1.event["client"] == same_day.event["client"]
    assert day1.event["client"].startswith("ip-") and "203.0.113" not in day1.event["client"]
    assert day1.update.visitor == same_day.update.visitor
    next_day = s.process(line().replace(b"28/Nov", b"29/Nov"), 1e9)
    assert next_day.event["client"] != day1.event["client"]
    assert next_day.update.visitor != day1.update.visitor
    other_process = scrubber(LOGSCRUB_EVENTS__CLIENT="pseudonym").process(line(), 1e9)
    assert other_process.event["client"] != day1.event["client"]  # keys are random, not derived


def test_time_is_coarsened_to_the_hour_or_the_slot_configured():
    assert scrubber().process(line(m=5, s=59), 1e9).event["time"] == "2026-11-28T10:00:00Z"
    minutes = scrubber(LOGSCRUB_EVENTS__TIME_GRANULARITY="1m").process(line(m=5, s=59), 1e9)
    assert minutes.event["time"] == "2026-11-28T10:05:00Z"


def test_query_allowlist_keeps_only_listed_parameters():
    s = scrubber(LOGSCRUB_URL__QUERY_ALLOW="[page]")
    assert "query" not in s.process(line(), 1e9).event  # not with a path nobody else asked for
    assert shared(s).event["query"] == {"page": "2"}


def test_the_raw_line_is_sealed_and_opens_with_its_key():
    s = scrubber()
    o = s.process(line() + b"\r\n", 1e9)
    key = s.data_keys.get(o.sealed["kid"])
    assert envelope.open_sealed(o.sealed, key) == line()


def test_rejections_have_reasons_and_sealed_lines():
    s = scrubber(LOGSCRUB_INPUT__MAX_LINE_BYTES="1024")
    cases = {
        b"": "empty",
        b"   \r\n": "empty",
        b"x" * 2000: "too_long",
        b"hello world": "no_match",
        line().replace(b"28/Nov/2026:10", b"99/Foo/2026:10"): "bad_time",
    }
    for raw, reason in cases.items():
        o = s.process(raw, 1e9)
        assert (o.event, o.update, o.reason) == (None, None, reason), raw[:40]
        assert o.sealed["reason"] == reason
        opened = envelope.open_sealed(o.sealed, s.data_keys.get(o.sealed["kid"]))
        assert opened == raw.rstrip(b"\r\n")[:1024] or reason == "too_long" and opened == raw[:1024]


def test_visitor_counts_use_full_ip_and_user_agent():
    s = scrubber()
    a = s.process(line("203.0.113.1"), 1e9).update
    b = s.process(line("203.0.113.2"), 1e9).update
    assert a.visitor != b.visitor  # same /24, different people


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(raw):
    o = scrubber.cached.process(raw, 1e9)
    assert (o.event is None) == (o.reason is not None)


scrubber.cached = scrubber()


def test_trusted_proxy_chain():
    s = scrubber(fmt="nginx", LOGSCRUB_INPUT__FORMAT="nginx",
                 LOGSCRUB_INPUT__NGINX_LOG_FORMAT='$remote_addr [$time_local] "$request" $status $body_bytes_sent "$http_x_forwarded_for"',
                 LOGSCRUB_IP__TRUSTED_PROXIES="[10.0.0.0/8]", LOGSCRUB_EVENTS__CLIENT="network")
    o = s.process(b'10.1.2.3 [28/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "198.51.100.9, 10.9.9.9"', 1e9)
    assert o.reason is None, o.reason
    assert o.event["client"] == "198.51.100.0/24"
    spoofed = s.process(b'192.0.2.1 [28/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "198.51.100.9"', 1e9)
    assert spoofed.event["client"] == "192.0.2.0/24"
    assert ipaddress.ip_network(o.event["client"])


def test_hashes_and_pseudonyms_of_a_destroyed_key_are_not_reused():
    """Per-client results are cached; a key's destruction must take its cached results with it."""
    from logscrub.scrub.scrubber import Scrubber
    from logscrub.crypto.keyring import KeyRing
    from logscrub.parsing.formats import make_parser

    clock = [1e9]
    cfg = load(None, env={"LOGSCRUB_EVENTS__CLIENT": "pseudonym"})
    visitor = KeyRing("visitor", 86400, 86400 + 3600, clock=lambda: clock[0])
    s = crowded(Scrubber(cfg, make_parser("combined"), visitor, build.key_rings(cfg, None)[1]))
    before = s.process(line(), clock[0])
    again = s.process(line(), clock[0])
    assert (again.event["client"], again.update.visitor) == (before.event["client"], before.update.visitor)
    clock[0] = 1.8e9  # January 2027: the key of 28 Nov 2026 has lived its life
    assert visitor.expire()
    after = s.process(line(), clock[0])
    assert after.event["client"] != before.event["client"]
    assert after.update.visitor != before.update.visitor


def test_dimensions_follow_the_configured_order():
    s = scrubber(LOGSCRUB_AGGREGATE__DIMENSIONS="[referrer, path]")
    assert s.process(line(), 1e9).update.dims == (("referrer", "google.com"), ("path", "/products/{id}"))
    assert scrubber(LOGSCRUB_AGGREGATE__DIMENSIONS="[]").process(line(), 1e9).update.dims == ()
