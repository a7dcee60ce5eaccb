"""Client addresses: the compiled core reads, walks, unwraps and generalizes them as privacy/ip.py
does (Python's ipaddress rules, brackets, ports, zone ids, X-Forwarded-For behind trusted proxies,
embedded IPv4), on the generated logs' clients, the canaries' and generated text."""

from __future__ import annotations

import ipaddress
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import canaries
from corpora import canary_lines, needs_native, sample_lines, visitor_lines
from logscrub import native
from logscrub.privacy import ip as ref

pytestmark = needs_native

ADDRESS_CHARS = st.sampled_from(list("0123456789abcdefABCDEF:.[]%/ ,-xX") + ["::", "::ffff:", "1.2.3.4", "eth0", "\u00a0", "\x1c", "٣", "ｆ"])
address_text = st.lists(ADDRESS_CHARS, max_size=24).map("".join)
v4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
v6 = st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))
v6_forms = st.integers(0, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n).exploded)
logged = (
    address_text | v4 | v6 | v6_forms
    | st.builds(lambda a, p: f"[{a}]:{p}", v6, st.integers(0, 99999))
    | st.builds(lambda a, p: f"{a}:{p}", v4, st.integers(0, 99999))
    | st.builds(lambda a, z: f"{a}%{z}", v6, st.text("abcz09._~-%", max_size=6))
    | st.builds(lambda a: f"::ffff:{a}", v4)
)
PROXIES = ["10.0.0.0/8", "192.0.2.0/24", "2001:db8:ffff::/48", "::/0"]
TRUSTED = [ipaddress.ip_network(c) for c in PROXIES[:3]]


def clients(lines) -> list[str]:
    return sorted({line.split(" ", 1)[0] for line in lines})


@settings(max_examples=3000, deadline=None)
@given(logged)
@example("[::1]:")
@example(" 1.2.3.4\x1c")
@example("1.2.3.04")
@example("::ffff:0.0.0.0")
@example("a" * 129)
def test_parse_ip_is_the_references(text):
    assert native.parse_ip(text) == ref.parse_ip(text)


@pytest.mark.parametrize("corpus", [sample_lines, visitor_lines, canary_lines])
def test_every_logged_client_parses_alike(corpus):
    for text in clients(corpus()):
        assert native.parse_ip(text) == ref.parse_ip(text), text


@settings(max_examples=1500, deadline=None)
@given(
    peer=st.none() | logged | st.sampled_from(["10.1.2.3", "192.0.2.9", "2001:db8:ffff::1", "203.0.113.5"]),
    chain=st.none() | st.lists(logged | st.sampled_from(["10.0.0.1", "unknown", "_hidden", "192.0.2.7", "-"]), max_size=8).map(", ".join),
    trusted=st.sampled_from([[], TRUSTED, [ipaddress.ip_network(c) for c in PROXIES]]),
)
def test_forwarded_for_walk_is_the_references(peer, chain, trusted):
    assert native.client_ip(peer, chain, native.trusted_networks(trusted)) == ref.client_ip(peer, chain, trusted)


def test_a_long_all_trusted_chain_stops_at_64_hops():
    chain = ", ".join(["198.51.100.7"] + ["10.0.0.1"] * 10_000)
    trusted = native.trusted_networks(TRUSTED)
    assert native.client_ip("10.1.1.1", chain, trusted) is None is ref.client_ip("10.1.1.1", chain, TRUSTED)
    short = ", ".join(["198.51.100.7"] + ["10.0.0.1"] * 10)
    assert native.client_ip("10.1.1.1", short, trusted) == ref.client_ip("10.1.1.1", short, TRUSTED)


addresses = st.one_of(
    st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
    st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
    st.sampled_from([v for v, _ in canaries.embedded_ipv4_clients(random.Random(1), 60)]).map(ipaddress.IPv6Address),
    st.integers(0, 2**32 - 1).map(lambda n: ipaddress.IPv6Address(0x0064_FF9B_0001 << 80 | n << 8)),
    st.integers(0, 2**64 - 1).map(lambda n: ipaddress.IPv6Address(0x0064_FF9B_0001 << 80 | n)),
)


@settings(max_examples=3000, deadline=None)
@given(addresses)
def test_embedded_ipv4_is_the_references(address):
    got = native.module().embedded_ipv4(address.packed) if address.version == 6 else None
    want = ref.embedded_ipv4(address)
    assert got == (want.packed if want is not None else None)


@settings(max_examples=3000, deadline=None)
@given(
    address=st.none() | addresses,
    mode=st.sampled_from(["truncate", "pseudonym", "drop"]),
    v4_prefix=st.integers(0, 32) | st.just(24),
    v6_prefix=st.integers(0, 128) | st.just(48),
    key=st.binary(min_size=1, max_size=40),
)
def test_generalized_addresses_are_the_references(address, mode, v4_prefix, v6_prefix, key):
    want = ref.IPGeneralizer(mode, v4_prefix, v6_prefix)(address, key)
    assert native.generalize_ip(address, mode, v4_prefix, v6_prefix, key) == want


def test_pseudonym_mode_without_a_key_fails_on_the_first_line_in_both():
    with pytest.raises(ValueError, match="needs a key"):
        ref.IPGeneralizer("pseudonym")(None, None)
    with pytest.raises(ValueError, match="needs a key"):
        native.generalize_ip(None, "pseudonym", 24, 48, None)
