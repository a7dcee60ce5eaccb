from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address, ip_network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logscrub.privacy.ip import (
    IP,
    IPGeneralizer,
    client_ip,
    embedded_ipv4,
    network_key,
    parse_ip,
    publishable_address,
)

V4 = IPv4Address
V6 = IPv6Address
PROXIES = [ip_network("10.0.0.0/8"), ip_network("2001:db8:ffff::/48")]

ipv4s = st.ip_addresses(v=4)
ipv6s = st.ip_addresses(v=6)
ips = st.one_of(ipv4s, ipv6s)


# --- parse_ip -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4", V4("1.2.3.4")),
        ("1.2.3.4:5678", V4("1.2.3.4")),
        ("1.2.3.4:0", V4("1.2.3.4")),
        ("  203.0.113.9 \n", V4("203.0.113.9")),
        ("2001:db8::1", V6("2001:db8::1")),
        ("2001:DB8::1", V6("2001:db8::1")),
        ("[2001:db8::1]", V6("2001:db8::1")),
        ("[2001:db8::1]:443", V6("2001:db8::1")),
        ("fe80::1%eth0", V6("fe80::1")),
        ("[fe80::1%eth0]:8080", V6("fe80::1")),
        ("fe80::1%25", V6("fe80::1")),
        ("::ffff:1.2.3.4", V4("1.2.3.4")),
        ("::FFFF:102:304", V4("1.2.3.4")),
        ("[::ffff:1.2.3.4]:80", V4("1.2.3.4")),
        ("::1", V6("::1")),
    ],
)
def test_parse_ip_accepts_what_logs_contain(text: str, expected: object) -> None:
    assert parse_ip(text) == expected


def test_parse_ip_drops_zone_from_result() -> None:
    ip = parse_ip("fe80::1%eth0")
    assert ip is not None and "%" not in str(ip) and "eth0" not in str(ip)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "-",
        "unknown",
        "_hidden",
        "localhost",
        "example.com",
        "example.com:80",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "01.2.3.4",  # leading zeros: octal on some systems, so ambiguous
        "1.2.3.4:",
        "1.2.3.4:abc",
        "1.2.3.4:65536",
        "1.2.3.4:123456",
        "1.2.3.4:\u0664\u0664\u0663",  # non-ASCII digits as a port
        "\u0661.2.3.4",
        "1.2.3.4%eth0",
        "1.2.3.4/24",
        "1.2.3.4, 5.6.7.8",
        "[1.2.3.4]",
        "[2001:db8::1",
        "[2001:db8::1]443",
        "[2001:db8::1]:",
        "[2001:db8::1]:99999",
        "2001:db8::1:443:",
        "2001:db8::g",
        "fe80::1%",
        "fe80::1%eth 0",
        "fe80::1%eth0%1",
        "2001:db8::/32",
        "1.2.3.4" + " " * 200,
        "1" * 10_000,
        ":" * 100_000,
        "\x00",
    ],
)
def test_parse_ip_rejects_everything_else(text: str | None) -> None:
    assert parse_ip(text) is None


@given(st.text())
def test_parse_ip_never_raises(text: str) -> None:
    result = parse_ip(text)
    assert result is None or isinstance(result, (IPv4Address, IPv6Address))


@given(ips, st.integers(0, 65535))
def test_parse_ip_round_trips_logged_forms(ip: IP, port: int) -> None:
    if ip.version == 4:
        forms = [str(ip), f"{ip}:{port}"]
    else:
        forms = [str(ip), ip.exploded, f"[{ip}]", f"[{ip}]:{port}", f"{ip}%eth0"]
    expected = (ip.ipv4_mapped or ip) if ip.version == 6 else ip
    for form in forms:
        assert parse_ip(form) == expected


# --- client_ip ------------------------------------------------------------------------------


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_ip("198.51.100.7:5555", "203.0.113.1", []) == V4("198.51.100.7")


def test_untrusted_peer_ignores_forwarded_for() -> None:
    # A client talking to us directly can put anything in X-Forwarded-For.
    assert client_ip("198.51.100.7", "10.0.0.1, 203.0.113.1", PROXIES) == V4("198.51.100.7")


def test_trusted_peer_walks_chain_right_to_left() -> None:
    # The leftmost entry was written by the client itself: only the first untrusted hop from the right counts.
    xff = "192.0.2.66, 203.0.113.5, 10.1.1.1, 10.2.2.2"
    assert client_ip("10.0.0.1", xff, PROXIES) == V4("203.0.113.5")


def test_trusted_peer_with_ipv6_and_ports_in_chain() -> None:
    xff = "[2001:db8:1::9]:51000, [2001:db8:ffff::2]:443"
    assert client_ip("[2001:db8:ffff::1]:443", xff, PROXIES) == V6("2001:db8:1::9")


def test_ipv4_mapped_peer_matches_ipv4_proxy_range() -> None:
    assert client_ip("::ffff:10.0.0.1", "203.0.113.5", PROXIES) == V4("203.0.113.5")


@pytest.mark.parametrize("xff", [None, "", "  ", "-"])
def test_trusted_peer_without_forwarded_for_is_the_client(xff: str | None) -> None:
    assert client_ip("10.0.0.1", xff, PROXIES) == V4("10.0.0.1")


def test_all_trusted_chain_gives_leftmost_hop() -> None:
    assert client_ip("10.0.0.1", "10.9.9.9, 10.0.0.2", PROXIES) == V4("10.9.9.9")


@pytest.mark.parametrize(
    "xff",
    [
        "unknown",
        "_hidden",
        "_SEVKISEK",
        "garbage, 10.0.0.2",
        "203.0.113.5, unknown, 10.0.0.2",
        "203.0.113.5,,10.0.0.2",
        "203.0.113.5, 10.0.0.2,",
        "203.0.113.5 10.0.0.2",
    ],
)
def test_unparseable_next_hop_gives_none(xff: str) -> None:
    assert client_ip("10.0.0.1", xff, PROXIES) is None


def test_garbage_left_of_the_client_does_not_matter() -> None:
    assert client_ip("10.0.0.1", "unknown, junk, 203.0.113.5, 10.0.0.2", PROXIES) == V4("203.0.113.5")


@pytest.mark.parametrize("peer", [None, "", "-", "unknown", "proxy.internal"])
def test_unparseable_peer_gives_none(peer: str | None) -> None:
    assert client_ip(peer, "203.0.113.5", PROXIES) is None


def test_huge_chain_is_bounded() -> None:
    # 10,000 hops: the client sits just inside the 64-hop window, then too far out.
    inside = ", ".join(["192.0.2.1"] * 9_937 + ["203.0.113.5"] + ["10.0.0.2"] * 62)
    assert client_ip("10.0.0.1", inside, PROXIES) == V4("203.0.113.5")
    outside = ", ".join(["203.0.113.5"] * 9_936 + ["10.0.0.2"] * 64)
    assert client_ip("10.0.0.1", outside, PROXIES) is None


def test_huge_single_hop_is_garbage() -> None:
    assert client_ip("10.0.0.1", "1" * 1_000_000, PROXIES) is None


@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()))
def test_client_ip_never_raises(peer: str | None, xff: str | None) -> None:
    result = client_ip(peer, xff, PROXIES)
    assert result is None or isinstance(result, (IPv4Address, IPv6Address))


@given(st.lists(st.one_of(ips.map(str), st.text(max_size=8)), min_size=1, max_size=10))
def test_trusted_peer_result_comes_from_the_chain(hops: list[str]) -> None:
    xff = ", ".join(hops)
    result = client_ip("10.0.0.1", xff, PROXIES)
    if xff.strip() in ("", "-"):
        assert result == V4("10.0.0.1")
    else:
        assert result is None or result in {parse_ip(h) for h in xff.split(",")}


# --- IPGeneralizer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        (V4("203.0.113.77"), "203.0.113.0/24"),
        (V6("2001:db8:1:2:3:4:5:6"), "2001:db8:1::/48"),
        (V6("::ffff:203.0.113.77"), "203.0.113.0/24"),
    ],
)
def test_truncate_defaults(ip: IP, expected: str) -> None:
    assert IPGeneralizer()(ip) == expected


def test_truncate_custom_prefixes() -> None:
    generalize = IPGeneralizer(ipv4_prefix=16, ipv6_prefix=32)
    assert generalize(V4("203.0.113.77")) == "203.0.0.0/16"
    assert generalize(V6("2001:db8:1::1")) == "2001:db8::/32"
    assert IPGeneralizer(ipv4_prefix=0)(V4("203.0.113.77")) == "0.0.0.0/0"


@given(ips, st.integers(0, 32), st.integers(0, 128))
def test_truncation_contains_ip_and_hides_host(ip: IP, p4: int, p6: int) -> None:
    result = IPGeneralizer(ipv4_prefix=p4, ipv6_prefix=p6)(ip)
    assert result is not None
    ip = publishable_address(ip)
    network = ipaddress.ip_network(result)
    assert ip in network
    assert network.prefixlen == (p4 if ip.version == 4 else p6)
    if network.prefixlen < ip.max_prefixlen:
        assert network.num_addresses > 1
        host_bits = int(ip) & int(network.hostmask)
        assert (network.network_address == ip) == (host_bits == 0)


@given(ipv4s.filter(lambda ip: int(ip) & 0xFF != 0))
def test_truncated_ipv4_never_shows_last_octet(ip: IPv4Address) -> None:
    result = IPGeneralizer()(ip)
    assert result is not None
    assert str(ip) not in result
    assert result.removesuffix("/24").split(".")[3] == "0"


def test_pseudonym_is_stable_keyed_and_hides_ip() -> None:
    generalize = IPGeneralizer("pseudonym")
    ip = V4("203.0.113.77")
    first = generalize(ip, b"k" * 32)
    assert first == generalize(ip, b"k" * 32)
    assert first != generalize(ip, b"j" * 32)
    assert first != generalize(V4("203.0.113.78"), b"k" * 32)
    assert first is not None and first.startswith("ip-") and len(first) == 19
    assert "203.0.113" not in first
    assert generalize(V6("::ffff:203.0.113.77"), b"k" * 32) == first


@given(ips, st.binary(min_size=16, max_size=32))
def test_pseudonym_never_contains_the_ip(ip: IP, key: bytes) -> None:
    result = IPGeneralizer("pseudonym")(ip, key)
    assert result is not None
    assert str(ip) not in result and ip.exploded not in result
    assert int(result.removeprefix("ip-"), 16) >= 0  # hex only, so no dotted or colon form can appear


@pytest.mark.parametrize("key", [None, b""])
def test_pseudonym_requires_key(key: bytes | None) -> None:
    with pytest.raises(ValueError, match="key"):
        IPGeneralizer("pseudonym")(V4("203.0.113.77"), key)


def test_drop_and_none() -> None:
    assert IPGeneralizer("drop")(V4("203.0.113.77"), b"k") is None
    assert IPGeneralizer()(None) is None
    assert IPGeneralizer("pseudonym")(None, b"k") is None


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"mode": "hash"}, "'hash'"),
        ({"mode": "TRUNCATE"}, "'TRUNCATE'"),
        ({"ipv4_prefix": 33}, "ipv4_prefix"),
        ({"ipv4_prefix": -1}, "ipv4_prefix"),
        ({"ipv6_prefix": 129}, "ipv6_prefix"),
        ({"ipv6_prefix": True}, "ipv6_prefix"),
        ({"ipv4_prefix": "24"}, "ipv4_prefix"),
    ],
)
def test_bad_configuration_names_the_value(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        IPGeneralizer(**kwargs)  # type: ignore[arg-type]


# --- network_key ----------------------------------------------------------------------------


def test_network_key() -> None:
    assert network_key(V4("203.0.113.77")) == bytes([203, 0, 113])
    assert network_key(V4("203.0.113.77")) == network_key(V4("203.0.113.1"))
    assert network_key(V4("203.0.113.77")) != network_key(V4("203.0.114.77"))
    assert network_key(V6("::ffff:203.0.113.77")) == network_key(V4("203.0.113.77"))
    assert network_key(V6("2001:db8:1:ffff::1")) == network_key(V6("2001:db8:1::"))
    assert network_key(V6("2001:db8:1::1")) != network_key(V6("2001:db8:2::1"))


@given(ips, ips)
def test_network_key_matches_default_truncation(a: IP, b: IP) -> None:
    """On the publishable address, which is what per-network lookups should be keyed on."""
    generalize = IPGeneralizer()
    same_key = network_key(publishable_address(a)) == network_key(publishable_address(b))
    assert same_key == (generalize(a) == generalize(b))


@given(st.text(alphabet="0123456789.", max_size=20))
def test_dotted_quads_parse_as_ipaddress_reads_them(text: str) -> None:
    try:
        expected: object = ipaddress.IPv4Address(text)
    except ValueError:
        expected = None
    assert parse_ip(text) == expected


@given(ips, st.integers(0, 128))
def test_truncation_is_the_network_of_the_prefix(ip: IP, prefix: int) -> None:
    v4 = min(prefix, 32)
    generalize = IPGeneralizer(ipv4_prefix=v4, ipv6_prefix=prefix)
    client = publishable_address(ip)  # one client, one form
    bits = v4 if client.version == 4 else prefix
    assert generalize(ip) == str(ip_network(f"{client}/{bits}", strict=False))


# --- IPv6 that carries an IPv4 address (issue 12) ---------------------------------------------
# Each builder puts ``v4`` where its mechanism carries it and fills every other bit at random:
# the generalized form must depend on the IPv4 address alone, whatever surrounds it.

LOW32 = 0xFFFF_FFFF
LOCAL_NAT64 = 0x0064_FF9B_0001 << 80
bits = st.integers(min_value=0)


def _sixtofour(v4: int, rest: int) -> int:
    return 0x2002 << 112 | v4 << 80 | rest % (1 << 80)


def _teredo(v4: int, rest: int) -> int:
    return 0x2001_0000 << 96 | (rest % (1 << 64)) << 32 | (~v4 & LOW32)  # server, flags, port, client


def _nat64(v4: int, rest: int) -> int:
    return 0x0064_FF9B << 96 | v4


def _local_nat64_48(v4: int, rest: int) -> int:
    return LOCAL_NAT64 | (v4 >> 16) << 64 | (v4 & 0xFFFF) << 40


def _local_nat64_56(v4: int, rest: int) -> int:
    return LOCAL_NAT64 | (rest % 256) << 72 | (v4 >> 24) << 64 | (v4 & 0xFF_FFFF) << 32


def _local_nat64_64(v4: int, rest: int) -> int:
    return LOCAL_NAT64 | (rest % (1 << 16)) << 64 | v4 << 24


def _local_nat64_96(v4: int, rest: int) -> int:
    return LOCAL_NAT64 | (rest % (1 << 48)) << 32 | v4


def _isatap(v4: int, rest: int) -> int:
    prefix = 0x2001_0DB8 << 32 | rest % (1 << 32)  # any unicast /64 that is not itself an embedding
    iid_high = (0x0000_5EFE, 0x0200_5EFE, 0x0100_5EFE, 0x0300_5EFE)[(rest >> 32) % 4]
    return prefix << 64 | iid_high << 32 | v4


def _compatible(v4: int, rest: int) -> int:
    return v4


def _translated(v4: int, rest: int) -> int:
    return 0xFFFF_0000 << 32 | v4


def _mapped(v4: int, rest: int) -> int:
    return 0xFFFF << 32 | v4


EMBEDDINGS = [_sixtofour, _teredo, _nat64, _local_nat64_48, _local_nat64_56, _local_nat64_64, _local_nat64_96,
              _isatap, _compatible, _translated, _mapped]
# Client addresses: the first octet is not 0 (0.0.0.0/8 is "this network": ::1 is loopback, not ::0.0.0.1) and
# the last is not 0 (a network address; RFC 6052 local-use positions are told apart by zero suffix bits).
clients = st.integers(1 << 24, LOW32).filter(lambda n: n & 0xFF != 0)


@pytest.mark.parametrize(
    "text",
    [
        "2002:c633:644d::1",  # 6to4
        "2002:c633:644d:1234:5678:9abc:def0:1",
        "2001:0:4136:e378:8000:63bf:39cc:9bb2",  # Teredo: client is ~39cc:9bb2
        "2001:0:53aa:64c:0:fbff:39cc:9bb2",
        "64:ff9b::198.51.100.77",  # NAT64 well-known prefix
        "64:ff9b::c633:644d",
        "64:ff9b:1::198.51.100.77",  # NAT64 local-use, /96
        "64:ff9b:1:c633:64:4d00::",  # /48
        "64:ff9b:1:00c6:33:644d::",  # /56
        "64:ff9b:1:0:c6:3364:4d00:0",  # /64
        "fe80::5efe:198.51.100.77",  # ISATAP, private IPv4 form of the interface id
        "2001:db8:1:2:200:5efe:c633:644d",  # ISATAP, global form
        "::198.51.100.77",  # IPv4-compatible
        "::ffff:0:198.51.100.77",  # IPv4-translated
        "[2002:c633:644d::1]:443",
        "2002:C633:644D::1%eth0",
    ],
)
def test_embedded_ipv4_is_generalized_as_that_ipv4(text: str) -> None:
    ip = parse_ip(text)
    assert ip is not None and ip.version == 6  # logged form kept: responders search by it
    assert embedded_ipv4(ip) == V4("198.51.100.77")
    assert publishable_address(ip) == V4("198.51.100.77")
    assert IPGeneralizer()(ip) == "198.51.100.0/24"
    assert IPGeneralizer(ipv4_prefix=16)(ip) == "198.51.0.0/16"
    key = b"k" * 32
    assert IPGeneralizer("pseudonym")(ip, key) == IPGeneralizer("pseudonym")(V4("198.51.100.77"), key)
    assert IPGeneralizer("drop")(ip, key) is None


@pytest.mark.parametrize(
    "text", ["2001:db8:abcd:12:3456:789a:bcde:f012", "::1", "::", "::0.0.0.9", "fe80::1", "2001:db8::5efe:1",
             "2001:1::c633:644d", "2003:c633:644d::1", "64:ff9b:2::c633:644d", "1.2.3.4"]
)
def test_addresses_without_an_embedded_ipv4(text: str) -> None:
    ip = parse_ip(text)
    assert ip is not None
    assert embedded_ipv4(ip) is None
    assert publishable_address(ip) == ip


@settings(max_examples=300)
@given(st.sampled_from(EMBEDDINGS), clients, bits, st.integers(0, 32), st.binary(min_size=16, max_size=32))
def test_every_embedding_publishes_only_the_ipv4_generalization(build, v4: int, rest: int, prefix: int,
                                                               key: bytes) -> None:
    ip = V6(build(v4, rest))
    client = V4(v4)
    assert embedded_ipv4(ip) == client
    truncated = IPGeneralizer(ipv4_prefix=prefix)(ip)
    assert truncated == str(ip_network(f"{client}/{prefix}", strict=False))
    pseudonym = IPGeneralizer("pseudonym", ipv4_prefix=prefix)(ip, key)
    assert pseudonym == IPGeneralizer("pseudonym")(client, key)
    if prefix <= 24:  # no published form spells out the client, in dotted or in hex
        for published in (truncated, pseudonym):
            assert published is not None
            assert str(client) not in published
            assert f"{v4 >> 16:x}:{v4 & 0xFFFF:x}" not in published
            assert ":" not in published or published.startswith("ip-")


@given(ipv6s)
def test_publishable_address_is_the_address_or_its_ipv4(ip: IPv6Address) -> None:
    published = publishable_address(ip)
    assert published == ip or (published.version == 4 and published == embedded_ipv4(ip))
    assert IPGeneralizer()(ip) == IPGeneralizer()(published)
