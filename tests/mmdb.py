"""Small GeoLite2-like MaxMind DB files for tests, so no test needs a real GeoIP download.

Files are IPv6 databases with IPv4 under ::/96, like GeoLite2. mmdb-writer does not add the
::ffff:0:0/96 alias that real files carry, so an IPv4-mapped lookup only resolves if the
reader unmaps it first.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mmdb_writer import MMDBWriter, MmdbU32
from netaddr import IPSet

# Documentation ranges only (RFC 5737, RFC 3849). The /25 split is on purpose: it is smaller
# than the /24 a lookup cache may key on.
COUNTRIES: Mapping[str, str] = {
    "203.0.113.0/24": "AU",
    "198.51.100.0/25": "US",
    "198.51.100.128/25": "CA",
    "2001:db8:1::/48": "DE",
}
ASNS: Mapping[str, tuple[int, str]] = {
    "203.0.113.0/24": (64500, "Example Transit"),
    "198.51.100.0/24": (64501, "Example Hosting"),
    "2001:db8::/32": (64502, "Example IPv6 Net"),
}


def write_country_db(path: Path, networks: Mapping[str, str] = COUNTRIES, ip_version: int = 6) -> Path:
    """A GeoLite2-Country-like file: ``{"country": {"iso_code": ...}}`` per network."""
    writer = _writer("GeoLite2-Country", ip_version)
    for cidr, code in networks.items():
        writer.insert_network(IPSet([cidr]), {"country": {"iso_code": code, "names": {"en": code}}})
    writer.to_db_file(str(path))
    return path


def write_asn_db(path: Path, networks: Mapping[str, tuple[int, str]] = ASNS, ip_version: int = 6) -> Path:
    """A GeoLite2-ASN-like file: autonomous_system_number / _organization per network."""
    writer = _writer("GeoLite2-ASN", ip_version)
    for cidr, (number, org) in networks.items():
        writer.insert_network(
            IPSet([cidr]),
            {"autonomous_system_number": MmdbU32(number), "autonomous_system_organization": org},
        )
    writer.to_db_file(str(path))
    return path


def _writer(database_type: str, ip_version: int) -> MMDBWriter:
    return MMDBWriter(
        ip_version=ip_version,
        database_type=database_type,
        languages=["en"],
        description=f"logscrub test {database_type}",
        ipv4_compatible=ip_version == 6,
    )
