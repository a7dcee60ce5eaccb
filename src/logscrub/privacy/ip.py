"""Client addresses as access logs carry them, and their publishable forms.

These run once per line, so parsing and truncation are cached (bounded) and the
X-Forwarded-For walk looks at a fixed number of hops however long the header is.
Nothing here does I/O.

IPv6 addresses that carry a client's IPv4 address (6to4, Teredo, NAT64, ISATAP,
IPv4-compatible and -translated) are published as that IPv4 address would be:
their /48 would otherwise spell it out. ``parse_ip`` still returns what was
logged, because responders search raw lines by the logged address.
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

# Where IPv6 carries an IPv4 address, by the address's top bits.
_TEREDO = 0x2001_0000  # 2001:0::/32 (RFC 4380): client IPv4 in the last 32 bits, inverted
_SIXTOFOUR = 0x2002  # 2002::/16 (RFC 3056): IPv4 in bits 16-47
_NAT64 = 0x0064_FF9B_0000_0000_0000_0000  # top 96 bits of 64:ff9b::/96 (RFC 6052): IPv4 in the last 32
_NAT64_LOCAL = 0x0064_FF9B_0001  # top 48 bits of 64:ff9b:1::/48 (RFC 8215): operator-chosen prefix length, /48 to /96
_TRANSLATED = 0xFFFF_0000  # ::ffff:0:0/96 (RFC 2765, IPv4-translated)
_ISATAP = 0x0000_5EFE  # interface id 0000:5efe or 0200:5efe (u/g bits free): IPv4 in the last 32 bits
_ISATAP_MASK = 0xFCFF_FFFF
_LOW32 = 0xFFFF_FFFF


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


def embedded_ipv4(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, or None.

    6to4, Teredo (the client's address, not the server's), NAT64 (the
    well-known /96, and the local-use /48 at the RFC 6052 position whose
    suffix is zero, /96 otherwise), ISATAP interface ids, IPv4-mapped,
    -compatible (``::a.b.c.d``, from 1.0.0.0 up, so ``::1`` is not one) and
    -translated addresses. A few integer tests: cheap enough to run per client.
    """
    if ip.version == 4:
        return None
    return _embedded(int(ip))


def _embedded(n: int) -> ipaddress.IPv4Address | None:
    high = n >> 96
    if high == _TEREDO:
        return ipaddress.IPv4Address(~n & _LOW32)
    if high >> 16 == _SIXTOFOUR:
        return ipaddress.IPv4Address((n >> 80) & _LOW32)
    if n >> 32 == _NAT64:
        return ipaddress.IPv4Address(n & _LOW32)
    if n >> 80 == _NAT64_LOCAL:
        return ipaddress.IPv4Address(_local_nat64(n))
    if n >> 32 in (0, _TRANSLATED, 0xFFFF):  # compatible, translated, mapped
        return ipaddress.IPv4Address(n & _LOW32) if (n >> 24) & 0xFF or n >> 32 else None
    if (n >> 32) & _ISATAP_MASK == _ISATAP:
        return ipaddress.IPv4Address(n & _LOW32)
    return None


def _local_nat64(n: int) -> int:
    """The IPv4 in 64:ff9b:1::/48 (RFC 6052 section 2.2; bits 64-71 are always zero).

    The prefix length is not in the address: the shortest whose suffix bits are
    zero is taken, and /96 (the usual one) when none is.
    """
    if n & ((1 << 40) - 1) == 0:  # /48: v4 in bits 48-63 and 72-87
        return ((n >> 64) & 0xFFFF) << 16 | (n >> 40) & 0xFFFF
    if n & _LOW32 == 0:  # /56: bits 56-63 and 72-95
        return ((n >> 64) & 0xFF) << 24 | (n >> 32) & 0xFF_FFFF
    if n & 0xFF_FFFF == 0:  # /64: bits 72-103
        return (n >> 24) & _LOW32
    return n & _LOW32


def publishable_address(ip: IP) -> IP:
    """The address that stands for the client on analytics: its IPv4 address where it has one.

    Use it wherever an address is generalized, hashed or looked up (visitor
    hashes, GeoIP), so a 6to4 or NAT64 client counts as the IPv4 client it is.
    """
    if ip.version == 4:
        return ip
    return _embedded(int(ip)) or ip


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
        ip = publishable_address(ip)
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
