from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

import pytest
from mmdb import write_asn_db, write_country_db

from logscrub.privacy.geo import GeoDatabaseError, GeoInfo, GeoLookup

UNKNOWN = GeoInfo(None, None, None)


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    tmp = tmp_path_factory.mktemp("mmdb")
    return str(write_country_db(tmp / "country.mmdb")), str(write_asn_db(tmp / "asn.mmdb"))


@pytest.fixture
def geo(dbs: tuple[str, str]) -> Iterator[GeoLookup]:
    lookup = GeoLookup(*dbs)
    yield lookup
    lookup.close()


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("203.0.113.77", GeoInfo("AU", 64500, "Example Transit")),
        ("198.51.100.7", GeoInfo("US", 64501, "Example Hosting")),
        ("198.51.100.200", GeoInfo("CA", 64501, "Example Hosting")),
        ("2001:db8:1::42", GeoInfo("DE", 64502, "Example IPv6 Net")),
        ("2001:db8:2::42", GeoInfo(None, 64502, "Example IPv6 Net")),
        ("192.0.2.1", UNKNOWN),
        ("2001:db9::1", UNKNOWN),
        ("::1", UNKNOWN),
    ],
)
def test_lookup(geo: GeoLookup, ip: str, expected: GeoInfo) -> None:
    assert geo.lookup(ip_address(ip)) == expected


def test_none_ip(geo: GeoLookup) -> None:
    assert geo.lookup(None) == UNKNOWN


def test_ipv4_mapped_resolves_like_ipv4(geo: GeoLookup) -> None:
    # The test files, unlike GeoLite2, have no ::ffff:0:0/96 alias: only unmapping finds the record.
    assert geo.lookup(IPv6Address("::ffff:203.0.113.77")) == GeoInfo("AU", 64500, "Example Transit")


def test_cache_returns_the_same_answers(geo: GeoLookup) -> None:
    addresses = [ip_address(a) for a in ("203.0.113.1", "203.0.113.250", "2001:db8:1::1", "2001:db8:1:ff::1")]
    first = [geo.lookup(a) for a in addresses]
    assert [geo.lookup(a) for a in reversed(addresses)] == first[::-1]
    assert first[0] == first[1] and first[2] == first[3]


@pytest.mark.parametrize("order", [("198.51.100.7", "198.51.100.200"), ("198.51.100.200", "198.51.100.7")])
def test_cache_does_not_spread_a_smaller_network(geo: GeoLookup, order: tuple[str, str]) -> None:
    # 198.51.100.0/24 is split into two /25s with different countries.
    for _ in range(2):
        assert [geo.lookup(ip_address(a)).country for a in order] == [
            {"198.51.100.7": "US", "198.51.100.200": "CA"}[a] for a in order
        ]


def test_small_cache_still_answers_correctly(dbs: tuple[str, str]) -> None:
    geo = GeoLookup(*dbs, cache_size=1)
    try:
        for _ in range(2):
            assert geo.lookup(IPv4Address("203.0.113.1")).country == "AU"
            assert geo.lookup(IPv6Address("2001:db8:1::1")).country == "DE"
    finally:
        geo.close()


def test_only_one_database(dbs: tuple[str, str]) -> None:
    country_only, asn_only = GeoLookup(country_db=dbs[0]), GeoLookup(asn_db=dbs[1])
    try:
        assert country_only.lookup(IPv4Address("203.0.113.1")) == GeoInfo("AU", None, None)
        assert asn_only.lookup(IPv4Address("203.0.113.1")) == GeoInfo(None, 64500, "Example Transit")
    finally:
        country_only.close()
        asn_only.close()


def test_no_database_means_unknown() -> None:
    assert GeoLookup().lookup(IPv4Address("203.0.113.1")) == UNKNOWN


def test_ipv6_in_ipv4_only_database_is_unknown(tmp_path: Path) -> None:
    path = write_country_db(tmp_path / "v4.mmdb", {"203.0.113.0/24": "AU"}, ip_version=4)
    geo = GeoLookup(country_db=str(path))
    try:
        assert geo.lookup(IPv6Address("2001:db8:1::1")) == UNKNOWN
        assert geo.lookup(IPv4Address("203.0.113.1")).country == "AU"
    finally:
        geo.close()


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "GeoLite2-Country.mmdb"
    with pytest.raises(GeoDatabaseError, match="GeoLite2-Country.mmdb"):
        GeoLookup(country_db=str(missing))


def test_not_a_database_names_the_path(tmp_path: Path, dbs: tuple[str, str]) -> None:
    bogus = tmp_path / "asn.mmdb"
    bogus.write_bytes(b"203.0.113.77 is not a database\n" * 10)
    with pytest.raises(GeoDatabaseError, match="asn.mmdb") as info:
        GeoLookup(country_db=dbs[0], asn_db=str(bogus))
    assert "203.0.113.77" not in str(info.value)
