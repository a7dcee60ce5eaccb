"""Client addresses as access logs carry them, and their publishable forms.

These run once per line, so parsing and truncation are cached (bounded) and the
X-Forwarded-For walk looks at a fixed number of hops however long the header is.
Nothing here does I/O.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import socket
from collections.abc import Sequence
from functools import lru_cache

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The longest real form is about 70 characters ("[" IPv6 "%" zone "]:65535");
# longer input is garbage and is rejected before it can enter the cache.
_MAX_TEXT = 128
_MAX_HOPS = 64
_ZONE = re.compile(r"[0-9A-Za-z._~-]+")  # RFC 6874 zone ids are unreserved characters
_MODES = ("truncate", "pseudonym", "drop")
_NETWORK_KEY_BYTES = {4: 3, 6: 6}  # /24 and /48


def parse_ip(text: str | None) -> IP | None:
    """The address in a logged client field, or None for anything else.

    IPv4-mapped IPv6 becomes IPv4 so one client has one form whichever socket
    family the server used; zone ids are dropped because they name the
    server's interface, not the client.
    """
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        return None
    return _parse(text)


@lru_cache(maxsize=32768)
def _parse(text: str) -> IP | None:
    s = text.strip()
    if s.startswith("["):
        host, closed, rest = s[1:].partition("]")
        if not closed or (rest and not (rest[0] == ":" and _is_port(rest[1:]))):
            return None
        return _ipv6(host)
    if s.count(":") == 1:
        host, _, port = s.partition(":")
        return _ipv4(host) if _is_port(port) else None
    if ":" in s:
        return _ipv6(s)
    return _ipv4(s)


def _is_port(text: str) -> bool:
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit() and int(text) <= 65535


def _ipv4(text: str) -> IP | None:
    # The usual dotted quad is read by the C library; only a text that is exactly the canonical form
    # of what it read is taken from there, so anything else still gets ipaddress's own rules.
    try:
        ip = ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):
        ip = None
    if ip is not None and str(ip) == text:
        return ip
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None


def _ipv6(text: str) -> IP | None:
    host, percent, zone = text.partition("%")
    if percent and not _ZONE.fullmatch(zone):
        return None
    try:
        ip = ipaddress.IPv6Address(host)
    except ValueError:
        return None
    return ip.ipv4_mapped or ip


def _unmap(ip: IP) -> IP:
    return (ip.ipv4_mapped or ip) if ip.version == 6 else ip


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """``ip.trusted_proxies`` as networks (validated by the config: host bits may be set)."""
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _trusted(ip: IP, proxies: Sequence[Network]) -> bool:
    return any(ip in net for net in proxies)


def client_ip(
    peer: str | None,
    forwarded_for: str | None,
    trusted_proxies: Sequence[Network],
) -> IP | None:
    """The address of the real client.

    X-Forwarded-For is believed only as far as our own proxies wrote it: each
    proxy appends the address it saw, so the chain is read right to left and
    the first hop that is not a trusted proxy is the client; anything left of
    it came from the client and may be forged. A hop that is not an address
    ("unknown", an RFC 7239 "_hidden" identifier, garbage) gives None rather
    than the last trusted hop, because that hop is one of our proxies: using
    it would file every such client under our own address. A chain that is
    trusted all the way gives its leftmost hop (an internal client). Only the
    last 64 hops are examined; a longer all-trusted run gives None.
    """
    peer_ip = parse_ip(peer)
    if peer_ip is None or not _trusted(peer_ip, trusted_proxies):
        return peer_ip
    chain = (forwarded_for or "").strip()
    if chain in ("", "-"):  # nginx logs "-" for an absent header
        return peer_ip
    end = len(chain)
    for _ in range(_MAX_HOPS):
        start = chain.rfind(",", 0, end)
        hop = parse_ip(chain[start + 1 : end])
        if hop is None or start < 0 or not _trusted(hop, trusted_proxies):
            return hop
        end = start
    return None


class IPGeneralizer:
    """Turns a client address into the form allowed on analytics topics."""

    __slots__ = ("mode", "ipv4_prefix", "ipv6_prefix")

    def __init__(self, mode: str = "truncate", ipv4_prefix: int = 24, ipv6_prefix: int = 48) -> None:
        if mode not in _MODES:
            raise ValueError(f"IP mode must be one of {', '.join(_MODES)}, not {mode!r}")
        _check_prefix("ipv4_prefix", ipv4_prefix, 32)
        _check_prefix("ipv6_prefix", ipv6_prefix, 128)
        self.mode = mode
        self.ipv4_prefix = ipv4_prefix
        self.ipv6_prefix = ipv6_prefix

    def __call__(self, ip: IP | None, key: bytes | None = None) -> str | None:
        """The generalized address; ``key`` is the current pseudonym key."""
        if self.mode == "drop":
            return None
        if self.mode == "pseudonym" and not key:
            # Checked before ``ip`` so a missing key fails on the first line, not the first address.
            raise ValueError("IP mode 'pseudonym' needs a key")
        if ip is None:
            return None
        ip = _unmap(ip)
        if self.mode == "pseudonym":
            return "ip-" + hmac.digest(key, ip.packed, "sha256").hex()[:16]
        return _truncate(ip, self.ipv4_prefix if ip.version == 4 else self.ipv6_prefix)


def _check_prefix(name: str, value: int, bits: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= bits:
        raise ValueError(f"{name} must be an integer from 0 to {bits}, not {value!r}")


def _truncate(ip: IP, prefix: int) -> str:
    drop = ip.max_prefixlen - prefix
    return _network(type(ip), int(ip) >> drop, drop, prefix)


@lru_cache(maxsize=65536)
def _network(kind: type[IP], high: int, drop: int, prefix: int) -> str:
    """Cached per network, not per address: a network's clients share one entry."""
    return f"{kind(high << drop)}/{prefix}"


def network_key(ip: IP) -> bytes:
    """The /24 (IPv4) or /48 (IPv6) holding ``ip``, packed: a cache key for per-network lookups.

    Routed prefixes are rarely more specific than these, so lookups keyed this
    way hit the cache for most of a network's clients; the keys differ in
    length, so the two families never collide.
    """
    ip = _unmap(ip)
    return ip.packed[: _NETWORK_KEY_BYTES[ip.version]]
