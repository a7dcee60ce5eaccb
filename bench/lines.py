"""Rewriting generated combined-format lines: new clients for the distinct-visitor run, live times for the soak."""

from __future__ import annotations

from datetime import UTC, datetime

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_SCATTER = 2_654_435_761  # odd, so i -> i * _SCATTER mod 2**24 is a bijection: distinct in, distinct out


def clf_time(t: float) -> str:
    """``28/Nov/2026:10:00:00 +0000``, the combined format's time, in UTC."""
    d = datetime.fromtimestamp(t, UTC)
    return f"{d.day:02d}/{_MONTHS[d.month - 1]}/{d.year}:{d.hour:02d}:{d.minute:02d}:{d.second:02d} +0000"


def distinct_client(i: int) -> str:
    """The ``i``-th of 16M distinct addresses: 15% IPv6, the IPv4 ones scattered over every /24 of 10/8.

    Scattered, so per-network caches see as many networks as a real crowd would, not 256 neighbours each.
    """
    if i % 100 < 15:
        return f"2001:db8:{(i >> 16) & 0xFFFF:x}:{i & 0xFFFF:x}::1"
    n = (i * _SCATTER) % (1 << 24)
    return f"10.{n >> 16}.{(n >> 8) & 0xFF}.{n & 0xFF}"


def rewrite(line: str, client: str | None = None, stamp: str | None = None) -> str:
    """``line`` with its first field (the client) and/or its ``[time]`` replaced."""
    if client is not None:
        line = client + line[line.index(" "):]
    if stamp is not None:
        start = line.index("[") + 1
        line = line[:start] + stamp + line[line.index("]", start):]
    return line
