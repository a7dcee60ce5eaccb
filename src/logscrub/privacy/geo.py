"""Country and autonomous system of a client, from MaxMind DB files.

Looked up on the full address, before it is generalized, because a /24 or a
pseudonym can no longer be located. Works with GeoLite2/GeoIP2 Country or City
and ASN databases, and with other files that use the same record layout.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import maxminddb

from logscrub.privacy.ip import IP, network_key


@dataclass(frozen=True, slots=True)
class GeoInfo:
    country: str | None  # ISO 3166-1 alpha-2
    asn: int | None
    as_org: str | None


_UNKNOWN = GeoInfo(None, None, None)


class GeoDatabaseError(Exception):
    """A configured MaxMind DB file that cannot be used."""


class _Database:
    """One open MaxMind DB file."""

    __slots__ = ("_reader", "_ipv6")

    def __init__(self, path: str) -> None:
        try:
            # MODE_AUTO picks the C extension: MODE_MEMORY is about 10x slower per lookup.
            self._reader = maxminddb.open_database(path, maxminddb.MODE_AUTO)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise GeoDatabaseError(f"cannot open MaxMind DB {path}: {reason}") from exc
        except maxminddb.InvalidDatabaseError as exc:
            raise GeoDatabaseError(f"{path} is not a valid MaxMind DB file") from exc
        self._ipv6 = self._reader.metadata().ip_version == 6

    def get(self, ip: IP) -> tuple[Any, int]:
        """The record for ``ip`` (or None) and the prefix length it holds for."""
        if ip.version == 6 and not self._ipv6:
            # The reader would raise, quoting the address; an IPv4-only file knows no IPv6 network.
            return None, 0
        return self._reader.get_with_prefix_len(ip)

    def close(self) -> None:
        self._reader.close()


class GeoLookup:
    """Country and AS of an address, cached per /24 (IPv4) or /48 (IPv6)."""

    def __init__(
        self, country_db: str | None = None, asn_db: str | None = None, cache_size: int = 65536
    ) -> None:
        self._country = _Database(country_db) if country_db else None
        try:
            self._asn = _Database(asn_db) if asn_db else None
        except GeoDatabaseError:
            if self._country:
                self._country.close()
            raise
        self._cache: OrderedDict[bytes, GeoInfo] = OrderedDict()
        self._cache_size = cache_size

    def lookup(self, ip: IP | None) -> GeoInfo:
        """What the databases say about ``ip``; fields they do not know are None."""
        if ip is None or (self._country is None and self._asn is None):
            return _UNKNOWN
        if ip.version == 6:
            ip = ip.ipv4_mapped or ip
        key = network_key(ip)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        country, country_prefix = self._country.get(ip) if self._country else (None, 0)
        asn, asn_prefix = self._asn.get(ip) if self._asn else (None, 0)
        info = GeoInfo(_country_code(country), *_autonomous_system(asn))
        # Only an answer that holds for the whole key network may be shared with its other addresses:
        # the databases do carry networks smaller than a /24.
        if max(country_prefix, asn_prefix) <= len(key) * 8:
            self._cache[key] = info
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return info

    def close(self) -> None:
        self._cache.clear()
        for db in (self._country, self._asn):
            if db:
                db.close()


def _country_code(record: Any) -> str | None:
    country = record.get("country") if isinstance(record, dict) else None
    code = country.get("iso_code") if isinstance(country, dict) else None
    return code if isinstance(code, str) else None


def _autonomous_system(record: Any) -> tuple[int | None, str | None]:
    if not isinstance(record, dict):
        return None, None
    number = record.get("autonomous_system_number")
    org = record.get("autonomous_system_organization")
    return (
        number if isinstance(number, int) and not isinstance(number, bool) else None,
        org if isinstance(org, str) else None,
    )
