"""Realistic access logs with known visitors: the ground truth that invariant 2 is measured on.

Whether an analytics record lets someone follow a person depends on how real traffic spreads
over addresses, networks and user agents, so a log of random lines measures nothing. Here every
line comes from a persistent visitor: humans with one device and user agent (updated when their
browser auto-updates), one or a few addresses over time (home IPv4 that rarely changes, IPv6
privacy addresses that rotate daily inside a /64, carrier NATs shared by strangers, office NATs
shared by colleagues), sessions of pages and their assets with think times on a diurnal curve,
returning across days with heavy-tailed activity; plus crawlers, feed readers, monitors, scripts
and scanners. Each line's visitor and full address are returned beside it, and the networks with
a country and an autonomous system each, so a test can write GeoIP databases for them.

Addresses come only from documentation and benchmarking ranges (192.0.2/24, 198.51.100/24,
203.0.113/24, 198.18.0.0/15, 2001:db8::/32). That is only 515 IPv4 /24s: a new home address goes
to a /24 nobody holds yet while there is one, so /24s hold one address each as in real logs up to
~500 IPv4 addresses per log (4 days at ~250 visitors a day); in bigger logs /24s are shared, mostly
across days (within a day 87% still hold one address at 400 visitors a day, 65% at 1,000), and the
/24 then says less about its client than in a real log. IPv6 (65,536 /48s) has no such limit.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

START = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
SITE = "https://www.example.com"
DAY = 86_400

# ---------------------------------------------------------------------------------------------
# Public types


@dataclass(frozen=True, slots=True)
class Network:
    """An address block with who routes it: what a GeoIP country + ASN database would say."""

    cidr: str
    country: str  # ISO 3166-1 alpha-2
    asn: int  # documentation and private-use AS numbers
    as_org: str  # fictional
    kind: str  # residential | mobile | corporate | hosting | crawler


@dataclass(frozen=True, slots=True)
class Truth:
    """Who really sent a line: the visitor and the full address it came from."""

    visitor: int
    client: str
    kind: str  # human | crawler | preview | feed | monitor | script | scraper | scanner


@dataclass(frozen=True, slots=True)
class Stats:
    """Figures a real log can be summarized by too (no ground truth needed, except ``visitors``)."""

    lines: int
    visitors: int
    addresses: int
    ipv6_addresses: float  # share of addresses
    slash24s: int  # IPv4 /24 networks seen
    single_address_24s: float  # share of those holding one address
    single_address_24s_daily: float  # the same within each day, averaged over days (what linking sees)
    slash48s: int
    single_address_48s: float
    human_lines: float  # share of lines

    def render(self) -> str:
        return (f"{self.lines} lines, {self.visitors} visitors, "
                f"{self.addresses} addresses ({self.ipv6_addresses:.0%} IPv6); "
                f"{self.slash24s} /24s, {self.single_address_24s:.1%} with one address "
                f"({self.single_address_24s_daily:.1%} within a day); "
                f"{self.slash48s} /48s, {self.single_address_48s:.1%} with one address; "
                f"{self.human_lines:.0%} of lines from humans")


@dataclass(frozen=True)
class Log:
    """Combined-format lines in time order, ``truth[i]`` for ``lines[i]``, and every network."""

    lines: list[str]
    truth: list[Truth]
    networks: tuple[Network, ...]

    def stats(self) -> Stats:
        """How the log spreads over addresses and networks, to compare with a real log's."""
        return _stats(self)

    def countries(self) -> dict[str, str]:
        """CIDR -> country, the shape ``tests/mmdb.py``'s ``write_country_db`` takes."""
        return {n.cidr: n.country for n in self.networks}

    def asns(self) -> dict[str, tuple[int, str]]:
        """CIDR -> (ASN, organization), the shape ``write_asn_db`` takes."""
        return {n.cidr: (n.asn, n.as_org) for n in self.networks}

    def write(self, directory: str | Path) -> Path:
        """``access.log``, ``truth.tsv`` (visitor, client, kind per line) and ``networks.tsv``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / "access.log").write_text("".join(line + "\n" for line in self.lines))
        (out / "truth.tsv").write_text("".join(f"{t.visitor}\t{t.client}\t{t.kind}\n" for t in self.truth))
        (out / "networks.tsv").write_text(
            "".join(f"{n.cidr}\t{n.country}\t{n.asn}\t{n.as_org}\t{n.kind}\n" for n in self.networks)
        )
        return out


def generate(days: int = 4, visitors_per_day: int = 250, seed: int = 1, start: datetime = START) -> Log:
    """``days`` days of one site's log with about ``visitors_per_day`` human visitors a day (weekends
    fewer), ~30% of them returning; crawlers and tools scale with the site. Same arguments, same log.
    ``networks`` holds every IPv4 block an address of the log is in and every organization's IPv6
    prefix (see the module docstring for how far IPv4 /24s stay as distinct as in a real log)."""
    if days < 1 or visitors_per_day < 1:
        raise ValueError("days and visitors_per_day must be at least 1")
    plan = _plan(random.Random(f"networks-{seed}"))
    return _Generator(plan, random.Random(f"log-{seed}"), days, visitors_per_day, start).run()


# ---------------------------------------------------------------------------------------------
# Where visitors are: countries, ISPs, carriers, offices, hosting, crawlers

# code: (share of human visitors in %, UTC offset in hours, IPv6 share at home, IPv6 share on mobile)
_COUNTRIES: dict[str, tuple[float, float, float, float]] = {
    "US": (24, -5, .50, .85), "DE": (9, 1, .70, .60), "GB": (7, 0, .45, .55), "IN": (6, 5.5, .70, .90),
    "FR": (5, 1, .80, .70), "CA": (4, -5, .40, .50), "NL": (3, 1, .55, .40), "BR": (3, -3, .45, .50),
    "PL": (2.5, 1, .20, .50), "ES": (2.5, 1, .10, .30), "IT": (2.5, 1, .15, .20), "AU": (2, 10, .40, .60),
    "JP": (1.6, 9, .50, .60), "SE": (1.5, 1, .20, .40), "CH": (1.2, 1, .40, .50), "RU": (1.2, 3, .10, .10),
    "BE": (1, 1, .70, .60), "AT": (1, 1, .30, .40), "UA": (1, 2, .20, .20), "MX": (1, -6, .40, .60),
    "CN": (.8, 8, .30, .50), "TR": (.8, 3, .05, .10), "CZ": (.8, 1, .30, .30), "DK": (.7, 1, .20, .30),
    "FI": (.7, 2, .40, .50), "NO": (.7, 1, .40, .50), "IE": (.7, 0, .30, .30), "PT": (.6, 0, .40, .40),
    "RO": (.6, 2, .30, .30), "ID": (.6, 7, .10, .30), "GR": (.5, 2, .40, .50), "HU": (.5, 1, .40, .50),
    "IL": (.5, 2, .30, .30), "ZA": (.5, 2, .05, .10), "SG": (.5, 8, .30, .40), "KR": (.5, 9, .10, .10),
    "VN": (.5, 7, .50, .60), "PH": (.5, 8, .10, .20), "AR": (.5, -3, .20, .30), "CO": (.4, -5, .20, .30),
    "NZ": (.4, 12, .30, .40), "NG": (.4, 1, .02, .05), "PK": (.4, 5, .05, .10), "TW": (.4, 8, .40, .40),
    "CL": (.3, -4, .20, .30), "EG": (.3, 2, .05, .05), "BD": (.3, 6, .05, .10), "HK": (.3, 8, .30, .30),
    "TH": (.3, 7, .40, .50), "MY": (.3, 8, .40, .50), "EE": (.15, 2, .30, .30), "LV": (.1, 2, .20, .20),
    "LT": (.12, 2, .20, .20), "SK": (.15, 1, .20, .20), "SI": (.1, 1, .30, .30), "HR": (.12, 1, .20, .20),
    "RS": (.12, 1, .10, .10), "BG": (.15, 2, .10, .10), "IS": (.05, 0, .20, .20), "LU": (.08, 1, .30, .30),
    "MA": (.1, 1, .05, .05), "KE": (.12, 3, .10, .30), "PE": (.12, -5, .20, .30), "UY": (.06, -3, .30, .40),
    "CR": (.05, -6, .10, .10), "GE": (.06, 4, .05, .10), "AM": (.05, 4, .05, .10), "KZ": (.1, 5, .05, .10),
    "BY": (.08, 3, .05, .05), "NP": (.08, 5.75, .20, .40), "LK": (.08, 5.5, .20, .30), "TN": (.05, 1, .05, .05),
    "AE": (.15, 4, .20, .30), "SA": (.15, 3, .30, .50), "VE": (.06, -4, .02, .02), "EC": (.06, -5, .10, .10),
}
_LEGAL = {"DE": "GmbH", "AT": "GmbH", "CH": "AG", "GB": "Ltd", "IE": "Ltd", "US": "Inc.", "CA": "Inc.",
          "FR": "SA", "NL": "B.V.", "BE": "SA", "PL": "Sp. z o.o.", "IT": "S.p.A.", "ES": "S.L.", "SE": "AB",
          "JP": "K.K.", "BR": "Ltda", "AU": "Pty Ltd", "IN": "Pvt Ltd", "FI": "Oy", "NO": "AS", "DK": "A/S"}
_STEMS = ("Nord", "Sud", "Alpen", "Blue", "Green", "Iron", "Silver", "Pacific", "Atlantic", "Metro", "Union",
          "Star", "Sky", "Wave", "Bright", "Clear", "Swift", "Coast", "River", "Valley", "Summit", "Harbor",
          "Prime", "Nova", "Vista", "Terra", "Aero", "Delta", "Polar", "Cedar", "Granite", "Lumen", "Orbit",
          "Falcon", "Maple", "Oak", "Pine", "Quartz", "Rapid", "Solar", "Tidal", "Urban", "Vector", "Zenith")
_TAILS = ("net", "link", "com", "tel", "fiber", "cable", "wave", "line", "connect", "stream", "band", "air")
_KIND_WORDS = {
    "residential": ("Telecom", "Broadband", "Communications", "Networks", "Internet", "Cable"),
    "mobile": ("Mobile", "Wireless", "Cellular"),
    "corporate": ("Holdings", "Industries", "Logistics", "Insurance", "Bank", "University", "Hospital", "Group"),
    "hosting": ("Hosting", "Cloud", "Data Centers", "Servers"),
    "crawler": ("Search", "Labs", "Crawl", "Research"),
}
_V4_SPACE = [
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15")
]
_V6_SPACE = ipaddress.ip_network("2001:db8::/32")


class _Free24s:
    """The /24s nobody holds yet. Big ISPs and hosting take one when all of theirs are in use, so a
    site's clients land one per /24 as in real logs; each such ISP is sure of a first one."""

    def __init__(self, slash24s: list[int]) -> None:
        self.free = slash24s
        self.reserved = 0  # ISPs that may still ask for their first /24

    def take(self, first: bool) -> int | None:
        if first:
            self.reserved -= 1
            return self.free.pop()
        return self.free.pop() if len(self.free) > self.reserved else None


@dataclass(eq=False)
class _Isp:
    """An organization's address blocks, and which addresses this log handed out from them."""

    org: str
    asn: int
    country: str
    kind: str
    weight: float
    blocks: list[tuple[int, int]] = field(default_factory=list)  # IPv4 (first address, size)
    prefix6: tuple[int, int] = (0, 0)  # IPv6 (network, prefix length)
    pool: list[int] = field(default_factory=list)  # the few public IPv4 addresses of a NAT or crawler fleet
    uses: list[int] = field(default_factory=list)  # addresses handed out per block
    taken: set[int] = field(default_factory=set)
    grows: _Free24s | None = None  # takes /24s as it needs them

    def fresh_v4(self, rng: random.Random) -> int:
        """A new address in the least used block: real logs spread a site's clients over /24s."""
        if self.grows is not None and (not self.blocks or min(self.uses) > 0):
            base = self.grows.take(first=not self.blocks)
            if base is not None:
                self.blocks.append((base, 256))
        self.uses += [0] * (len(self.blocks) - len(self.uses))
        low = min(self.uses)
        i = rng.choice([i for i, n in enumerate(self.uses) if n == low])
        first, size = self.blocks[i]
        for _ in range(64):
            ip = first + rng.randrange(1, size - 1)
            if ip not in self.taken:
                break
        self.taken.add(ip)
        self.uses[i] += 1
        return ip

    def from_pool(self, rng: random.Random) -> int:
        return rng.choice(self.pool)

    def subnet64(self, rng: random.Random, customer_bits: int = 64) -> int:
        """A /64 in this prefix: a household's (first /64 of a random /56) or a phone's (any /64)."""
        net, plen = self.prefix6
        free = customer_bits - plen
        return net | (rng.getrandbits(free) << (128 - customer_bits)) if free > 0 else net


@dataclass(eq=False)
class _Plan:
    homes: dict[str, tuple[list[_Isp], list[float]]]  # country -> fixed-line ISPs, cumulative weights
    carriers: dict[str, tuple[list[_Isp], list[float]]]
    offices: list[_Isp]
    hosting: list[_Isp]
    crawlers: dict[str, _Isp]
    everyone: list[_Isp]

    def networks(self) -> tuple[Network, ...]:
        """Every IPv4 block handed out so far and every IPv6 prefix, with its organization."""
        out: list[Network] = []
        seen6: set[tuple[int, int]] = set()
        for isp in self.everyone:
            for first, size in isp.blocks:
                plen = 33 - size.bit_length()
                out.append(Network(f"{ipaddress.IPv4Address(first)}/{plen}", isp.country, isp.asn, isp.org, isp.kind))
            if isp.prefix6[1] and isp.prefix6 not in seen6:
                seen6.add(isp.prefix6)
                out.append(Network(str(ipaddress.IPv6Network(isp.prefix6)), isp.country, isp.asn, isp.org, isp.kind))
        return tuple(out)


class _Names:
    """Unique fictional organization names and AS numbers (documentation, then private-use ones)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()
        self.asns = iter([*range(64496, 64512), *range(65536, 65552), *range(64512, 65535),
                          *range(4_200_000_000, 4_200_100_000)])

    def org(self, kind: str, country: str) -> tuple[str, int]:
        for _ in range(1000):
            name = f"{self.rng.choice(_STEMS)}{self.rng.choice(_TAILS)} {self.rng.choice(_KIND_WORDS[kind])}"
            legal = _LEGAL.get(country)
            name = f"{name} {legal}" if legal else name
            if name not in self.used:
                self.used.add(name)
                return name, next(self.asns)
        raise RuntimeError("ran out of organization names")


def _zipf(n: int, s: float) -> list[float]:
    return [1 / (r ** s) for r in range(1, n + 1)]


_SMALL_ISP = 0.15  # share of visitors (in %) below which an ISP holds a /26 of a shared /24, not whole /24s


def _plan(rng: random.Random) -> _Plan:
    """Split the documentation ranges into networks: a few big ISPs and many small ones per
    country, carrier NAT pools, office NATs, hosting and crawler networks, each with an AS."""
    names = _Names(rng)
    slash24s = [int(net.network_address) + (i << 8) for net in _V4_SPACE for i in range(net.num_addresses >> 8)]
    rng.shuffle(slash24s)
    free = _Free24s(slash24s)
    slices: dict[int, list[tuple[int, int]]] = {}

    def piece(size: int) -> tuple[int, int]:
        """A sub-/24 block; several small organizations share a /24, as GeoIP data shows."""
        if not slices.get(size):
            base = free.free.pop()
            slices[size] = [(base + i * size, size) for i in range(256 // size)]
        return slices[size].pop(0)

    v6_next = [int(_V6_SPACE.network_address)]

    def take6(plen: int) -> tuple[int, int]:
        size = 1 << (128 - plen)
        start = -(-v6_next[0] // size) * size  # aligned
        v6_next[0] = start + size
        if v6_next[0] > int(_V6_SPACE.broadcast_address) + 1:
            raise RuntimeError("2001:db8::/32 is full")
        return start, plen

    # Crawlers: two search engines with a /24 each, other operators a /27 each.
    crawlers: dict[str, _Isp] = {}
    for key, country in (("search-a", "US"), ("search-b", "US"), ("yandex", "RU"), ("apple", "US"), ("ahrefs", "SG"),
                         ("semrush", "US"), ("social", "US"), ("openai", "US"), ("anthropic", "US"), ("bytedance", "SG")):
        org, asn = names.org("crawler", country)
        block = (free.free.pop(), 256) if key.startswith("search") else piece(32)
        isp = crawlers[key] = _Isp(org, asn, country, "crawler", 0, [block])
        isp.pool = rng.sample(range(block[0] + 1, block[0] + block[1] - 1), 40 if block[1] == 256 else 8)
    # Offices: a /28 each, with one to three NAT addresses.
    offices: list[_Isp] = []
    codes, weights = list(_COUNTRIES), [c[0] for c in _COUNTRIES.values()]
    for _ in range(32):
        country = rng.choices(codes, weights)[0]
        org, asn = names.org("corporate", country)
        first, size = block = piece(16)
        isp = _Isp(org, asn, country, "corporate", 1, [block])
        isp.pool = rng.sample(range(first + 1, first + size - 1), rng.choice((1, 1, 2, 3)))
        offices.append(isp)

    # Carriers and fixed-line ISPs per country: Zipf market shares, a tail of small regional ISPs.
    carriers: dict[str, tuple[list[_Isp], list[float]]] = {}
    homes: dict[str, tuple[list[_Isp], list[float]]] = {}
    all_carriers: list[_Isp] = []
    all_homes: list[_Isp] = []
    for code, (share, *_) in _COUNTRIES.items():
        n_mobile = max(1, min(4, round(1 + math.log(1 + share))))
        shares = _zipf(n_mobile, 1.0)
        isps = []
        for w in shares:
            org, asn = names.org("mobile", code)
            isps.append(_Isp(org, asn, code, "mobile", share * w / sum(shares)))
        carriers[code] = (isps, list(accumulate(i.weight for i in isps)))
        all_carriers += isps
        n_main = max(1, min(7, round(1 + 1.5 * math.log(1 + 3 * share))))
        n_small = round(1.5 * math.sqrt(share)) if share >= 1 else 0
        main = [w / sum(_zipf(n_main, 1.2)) * (0.9 if n_small else 1.0) for w in _zipf(n_main, 1.2)]
        isps = []
        for w in main + [0.1 / max(1, n_small)] * n_small:
            org, asn = names.org("residential", code)
            isps.append(_Isp(org, asn, code, "residential", share * w))
        homes[code] = (isps, list(accumulate(i.weight for i in isps)))
        all_homes += isps
    # Carrier NAT pools: the biggest carriers a /24 each, the others a /27 of a shared /24.
    all_carriers.sort(key=lambda i: -i.weight)
    for rank, isp in enumerate(all_carriers):
        first, size = block = (free.free.pop(), 256) if rank < 8 else piece(32)
        isp.blocks = [block]
        isp.pool = rng.sample(range(first + 1, first + size - 1), max(2, min(size - 2, round(4 * isp.weight))))
    # Hosting: 8 providers, the big ones in several countries.
    hosting: list[_Isp] = []
    for provider, countries in enumerate((("US", "DE", "NL", "SG"), ("US", "FR", "GB"), ("DE", "FI", "US"),
                                          ("US", "NL"), ("FR", "CA"), ("US",), ("JP", "SG"), ("RU", "NL"))):
        org, asn = names.org("hosting", countries[0])
        hosting += [_Isp(org, asn, country, "hosting", 1 / (provider + 1)) for country in countries]
    growing = [i for i in all_homes if i.weight >= _SMALL_ISP] + hosting
    for isp in all_homes:
        if isp.weight < _SMALL_ISP:
            isp.blocks = [piece(64)]
    for isp in growing:
        isp.grows = free
    free.reserved = len(growing)
    if len(free.free) < 2 * free.reserved:
        raise RuntimeError("too little IPv4 space left for the ISPs")

    # IPv6: big carriers and ISPs a /36, medium ones a /40, small ones, offices and hosting a /44.
    for isp in sorted(all_carriers + all_homes, key=lambda i: -i.weight):
        isp.prefix6 = take6(36 if isp.weight > 4 else 40 if isp.weight > 0.5 else 44)
    for isp in offices + hosting:
        isp.prefix6 = take6(44)
    for isp in crawlers.values():
        isp.prefix6 = take6(48)
    everyone = [*crawlers.values(), *hosting, *offices, *all_carriers, *all_homes]
    return _Plan(homes, carriers, offices, hosting, crawlers, everyone)


# ---------------------------------------------------------------------------------------------
# User agents: families with release trains, a long tail of versions, apps and devices

# family: (major on the first day, days to its next release, days between releases)
_FAMILIES: dict[str, tuple[int, int, int]] = {
    "chrome": (142, 2, 28), "edge": (142, 4, 28), "firefox": (145, 9, 28), "opera": (123, 12, 28),
    "operamobile": (92, 20, 35), "samsung": (29, 40, 60), "yandex": (25, 30, 30), "facebook": (530, 1, 7),
    "instagram": (405, 3, 7), "gsa": (391, 2, 7), "silk": (131, 25, 30), "miui": (14, 90, 90),
    "uc": (13, 90, 90), "huawei": (15, 90, 90), "whale": (4, 60, 60), "vivaldi": (7, 30, 45),
}
_APPS = frozenset(("facebook", "instagram", "gsa"))  # weekly releases: long version tails

# (name, device, weight within the device, family or None, user agent pattern)
_Template = tuple[str, str, float, str | None, str]
_TEMPLATES: tuple[_Template, ...] = (
    ("chrome_win", "desktop", 33, "chrome", "Mozilla/5.0 (Windows NT {win}; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"),
    ("chrome_mac", "desktop", 10, "chrome", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"),
    ("chrome_linux", "desktop", 2.5, "chrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"),
    ("chrome_cros", "desktop", 1.0, "chrome", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"),
    ("edge_win", "desktop", 12, "edge", "Mozilla/5.0 (Windows NT {win}; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.{b}.{p}"),
    ("edge_mac", "desktop", 0.8, "edge", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.{b}.{p}"),
    ("firefox_win", "desktop", 6, "firefox", "Mozilla/5.0 (Windows NT {win}; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
    ("firefox_mac", "desktop", 1.5, "firefox", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
    ("firefox_linux", "desktop", 2, "firefox", "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
    ("firefox_ubuntu", "desktop", 1.2, "firefox", "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
    ("firefox_fedora", "desktop", 0.3, "firefox", "Mozilla/5.0 (X11; Fedora; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
    ("safari_mac", "desktop", 13, "safari_mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{sv} Safari/605.1.15"),
    ("opera_win", "desktop", 1.5, "opera", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36 OPR/{v}.0.0.0"),
    ("vivaldi_win", "desktop", 0.3, "vivaldi", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36 Vivaldi/{v}.{q}.{b}.{p}"),
    ("yandex_win", "desktop", 0.5, "yandex", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 YaBrowser/{v}.{q}.0.0 Safari/537.36"),
    ("whale_win", "desktop", 0.1, "whale", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Whale/{v}.{q}.0.0 Safari/537.36"),
    ("palemoon", "desktop", 0.08, None, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Goanna/6.7 Firefox/140.0 PaleMoon/33.{q}.0"),
    ("waterfox", "desktop", 0.08, None, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0 Waterfox/6.5.{q}"),
    ("seamonkey", "desktop", 0.04, None, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 SeaMonkey/2.53.{q}"),
    ("ie11", "desktop", 0.04, None, "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"),
    ("xbox", "desktop", 0.03, "edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.{b}.{p}"),
    ("tizen_tv", "desktop", 0.05, None, "Mozilla/5.0 (SMART-TV; Linux; Tizen {q}.0) AppleWebKit/537.36 (KHTML, like Gecko) 85.0.4183.93/6.0 TV Safari/537.36"),
    ("webos_tv", "desktop", 0.03, None, "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/94.0.4606.128 Safari/537.36 WebAppManager"),
    ("tesla", "desktop", 0.02, None, "Mozilla/5.0 (X11; GNU/Linux) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36 Tesla/2025.38.{q}"),
    ("safari_iphone", "mobile", 36, "safari_ios", "Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{sv} Mobile/15E148 Safari/604.1"),
    ("chrome_android", "mobile", 30, "chrome", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36"),
    ("samsung_android", "mobile", 6, "samsung", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{v}.0 Chrome/{c}.0.0.0 Mobile Safari/537.36"),
    ("chrome_ios", "mobile", 4.5, "chrome", "Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/{v}.0.{b}.{p} Mobile/15E148 Safari/604.1"),
    ("google_app_ios", "mobile", 1.2, "gsa", "Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/{v}.0.{b}{p} Mobile/15E148 Safari/604.1"),
    ("facebook_ios", "mobile", 1.8, "facebook", "Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/22G86 [FBAN/FBIOS;FBAV/{v}.0.0.{q};FBBV/{b}{p};FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/{iosdot};FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/5]"),
    ("facebook_android", "mobile", 1.5, "facebook", "Mozilla/5.0 (Linux; Android {a}; {m} Build/{build}; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/{c}.0.{b}.{p} Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/{v}.0.0.{q}.74;]"),
    ("instagram_ios", "mobile", 0.8, "instagram", "Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram {v}.0.0.{q}.80 (iPhone14,5; iOS {ios}; en_US; en; scale=3.00; 1170x2532; 7{b}{p})"),
    ("instagram_android", "mobile", 0.8, "instagram", "Mozilla/5.0 (Linux; Android {a}; {m} Build/{build}; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/{c}.0.{b}.{p} Mobile Safari/537.36 Instagram {v}.0.0.{q}.80 Android (34/{a}; 420dpi; 1080x2400; {m}; en_US; 8{b}{p})"),
    ("firefox_android", "mobile", 1.5, "firefox", "Mozilla/5.0 (Android {a}; Mobile; rv:{v}.0) Gecko/{v}.0 Firefox/{v}.0"),
    ("firefox_ios", "mobile", 0.5, "firefox", "Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/{v}.0 Mobile/15E148 Safari/605.1.15"),
    ("edge_android", "mobile", 0.6, "edge", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36 EdgA/{v}.0.{b}.{p}"),
    ("edge_ios", "mobile", 0.3, "edge", "Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 EdgiOS/{v}.0.{b}.{p} Mobile/15E148 Safari/605.1.15"),
    ("opera_android", "mobile", 0.7, "operamobile", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Mobile Safari/537.36 OPR/{v}.0.0.0"),
    ("ddg_android", "mobile", 0.3, None, "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Mobile Safari/537.36 DuckDuckGo/5"),
    ("ddg_ios", "mobile", 0.3, None, "Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{sv} Mobile/15E148 DuckDuckGo/7 Safari/605.1.15"),
    ("miui", "mobile", 0.5, "miui", "Mozilla/5.0 (Linux; U; Android {a}; {m} Build/{build}) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/{c}.0.{b}.{p} Mobile Safari/537.36 XiaoMi/MiuiBrowser/{v}.{q}.1-gn"),
    ("uc", "mobile", 0.4, "uc", "Mozilla/5.0 (Linux; U; Android {a}; en-US; {m} Build/{build}) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/{c}.0.{b}.{p} UCBrowser/{v}.6.2.1318 Mobile Safari/537.36"),
    ("huawei", "mobile", 0.3, "huawei", "Mozilla/5.0 (Linux; Android 10; HarmonyOS; {m}; HMSCore 6.14.0.302) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.{b}.{p} HuaweiBrowser/{v}.0.4.312 Mobile Safari/537.36"),
    ("yandex_android", "mobile", 0.3, "yandex", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 YaBrowser/{v}.{q}.1.0 Mobile Safari/537.36"),
    ("webview_android", "mobile", 1.0, "chrome", "Mozilla/5.0 (Linux; Android {a}; {m} Build/{build}; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/{v}.0.{b}.{p} Mobile Safari/537.36"),
    ("kaios", "mobile", 0.05, None, "Mozilla/5.0 (Mobile; LYF/F300B/LYF-F300B-001-01-15-130718-i;Android; rv:48.0) Gecko/48.0 Firefox/48.0 KAIOS/2.5"),
    ("ipad_desktop", "tablet", 40, "safari_mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{sv} Safari/605.1.15"),
    ("ipad", "tablet", 18, "safari_ios", "Mozilla/5.0 (iPad; CPU OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{sv} Mobile/15E148 Safari/604.1"),
    ("chrome_android_tablet", "tablet", 20, "chrome", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"),
    ("samsung_tablet", "tablet", 8, "samsung", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{v}.0 Chrome/{c}.0.0.0 Safari/537.36"),
    ("silk", "tablet", 5, "silk", "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/{v}.3.1 like Chrome/{c}.0.{b}.{p} Safari/537.36"),
    ("chrome_ipad", "tablet", 5, "chrome", "Mozilla/5.0 (iPad; CPU OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/{v}.0.{b}.{p} Mobile/15E148 Safari/604.1"),
    ("firefox_android_tablet", "tablet", 1, "firefox", "Mozilla/5.0 (Android {a}; Tablet; rv:{v}.0) Gecko/{v}.0 Firefox/{v}.0"),
)
# iOS as user agents show it: iOS 26 still says "iPhone OS 18_6". (OS token, Safari version, weight)
_IOS = (("18_6", "26.0", 28), ("18_6", "26.1", 17), ("18_7", "18.7", 12), ("18_6_2", "18.6", 14), ("18_5", "18.5", 7),
        ("17_7", "17.7", 6), ("17_6_1", "17.6", 4), ("16_7_12", "16.6", 5), ("15_8_5", "15.6.1", 3),
        ("12_5_7", "12.1.2", 0.5))
_MAC_SAFARI = (("26.1", 30), ("26.0", 15), ("18.6", 20), ("18.5", 10), ("17.6", 12), ("16.6", 6), ("15.6.1", 3),
               ("14.1.2", 1))
_ANDROID = (("15", 25), ("14", 25), ("13", 18), ("12", 12), ("11", 8), ("10", 6), ("9", 3), ("8.1.0", 2), ("7.0", 1))
_MODELS = ("SM-S918B", "SM-A546B", "Pixel 8", "Pixel 7a", "2201117TY", "CPH2581", "moto g54 5G", "RMX3630", "V2111",
           "SM-G991B", "M2101K6G", "SM-A155F", "23090RA98G", "SM-A256E", "Infinix X6831", "TECNO KJ5")
_LAG = ((0, 64), (1, 20), (2, 6), (3, 3), (4, 1.2), (5, 0.9), (6, 0.7), (8, 0.6), (10, 0.4), (13, 0.3))
_APP_LAG = tuple((lag, 0.6 ** lag) for lag in range(16))


def _current(family: str, day: int) -> int:
    """The newest major of ``family`` on ``day`` (day 0 is the log's first day)."""
    major, first, period = _FAMILIES[family]
    return major if day < first else major + 1 + (day - first) // period


@dataclass(eq=False)
class _Agent:
    """One device's browser: its user agent changes only when the browser updates."""

    template: _Template
    params: dict[str, str | int]
    major: int
    stuck: bool  # an old device or policy that no longer updates
    text: str = ""

    def render(self) -> None:
        self.text = self.template[4].format(v=self.major, **self.params)

    def update(self, rng: random.Random, day: int) -> None:
        """Evergreen browsers and apps move to the current major a few days after its release."""
        family = self.template[3]
        if self.stuck or family not in _FAMILIES:
            return
        current = _current(family, day)
        if self.major < current and rng.random() < (0.35 if family in _APPS else 0.15):
            self.major = current
            self.params["c"] = max(int(self.params["c"]), _current("chrome", day) - 1)
            self.render()


def _weighted(rng: random.Random, pairs: Sequence[tuple[T, float]]) -> T:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


_BY_DEVICE = {d: [t for t in _TEMPLATES if t[1] == d] for d in ("desktop", "mobile", "tablet")}


def _agent(rng: random.Random, device: str, day: int, template: _Template | None = None) -> _Agent:
    t = template or rng.choices(_BY_DEVICE[device], [t[2] for t in _BY_DEVICE[device]])[0]
    family = t[3]
    ios, sv = _weighted(rng, [((o, s), w) for o, s, w in _IOS])
    if family == "safari_mac":
        sv = _weighted(rng, _MAC_SAFARI)
    chrome = _current("chrome", day)
    params: dict[str, str | int] = {
        "win": "10.0", "ios": ios, "iosdot": ios.replace("_", "."), "sv": sv,
        "a": _weighted(rng, _ANDROID), "m": rng.choice(_MODELS),
        "build": f"{rng.choice('UTSRQ')}P{rng.randint(1, 3)}A.{rng.randint(230000, 251100)}.{rng.randint(1, 30):03d}",
        "b": rng.randint(1000, 7999), "p": rng.randint(10, 250), "q": rng.randint(0, 9),
        "c": chrome - _weighted(rng, ((0, 6), (1, 3), (2, 1), (4, 1))),
    }
    stuck = False
    if family in ("safari_ios", "safari_mac"):
        major = int(sv.split(".")[0])
    elif family in _FAMILIES:
        lag = _weighted(rng, _APP_LAG if family in _APPS else _LAG)
        major = _current(family, day) - lag
        if family in ("chrome", "edge", "firefox") and rng.random() < 0.03:
            stuck = True  # Windows 7/8.1 and old phones keep the last version they were offered
            if t[0] in ("chrome_win", "edge_win", "firefox_win"):
                params["win"] = rng.choice(("6.1", "6.1", "6.3"))
                major = 115 if family == "firefox" else 109
            else:
                major -= rng.randint(12, 40)
        elif family == "firefox" and rng.random() < 0.12:
            stuck, major = True, rng.choice((140, 140, 128))  # extended support releases
    else:
        major = 0
    agent = _Agent(t, params, major, stuck)
    agent.render()
    return agent


# ---------------------------------------------------------------------------------------------
# The site: pages with a popularity curve, their assets, referrers

_WORDS = ("kafka", "retention", "privacy", "streams", "python", "logs", "apache", "nginx", "gdpr", "metrics",
          "latency", "partitions", "consumer", "offsets", "schema", "anonymization", "hashing", "keys", "rotation",
          "backpressure", "batching", "tuning", "compose", "kubernetes", "grafana", "alerts", "geoip", "sketches")
_FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
          "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "maria", "jose", "wei", "yuki", "omar",
          "fatima", "lars", "ingrid", "pierre", "chloe", "raj", "priya", "kofi", "ana", "luca", "sofia", "mateo")
_LAST = ("smith", "garcia", "mueller", "rossi", "dubois", "kowalski", "nguyen", "tanaka", "silva", "jensen",
         "novak", "ivanova", "okafor", "patel", "cohen", "murphy", "larsen", "costa", "schmidt", "martin")
_COMMON_ASSETS = ("/static/css/main.{h}.css", "/static/js/app.{h}.js", "/img/logo.svg")
_ASSET_SIZES = {"css": 28_417, "js": 96_113, "svg": 3_211, "ico": 5_430, "png": 9_870}
_SEARCH = (("https://www.google.com/", 40), ("https://www.google.{tld}/", 18), ("https://www.bing.com/", 7),
           ("https://duckduckgo.com/", 5), ("https://www.ecosia.org/", 1.5), ("https://search.brave.com/", 1),
           ("https://yandex.ru/", 1), ("https://www.baidu.com/", 0.4), ("https://search.yahoo.com/", 1),
           ("android-app://com.google.android.googlequicksearchbox/", 3))
_SOCIAL = (("https://t.co/{short}", 6), ("https://l.facebook.com/", 5), ("https://www.linkedin.com/", 5),
           ("https://www.reddit.com/r/{word}/comments/{short}/", 4), ("https://news.ycombinator.com/", 4),
           ("https://lobste.rs/", 1), ("https://mastodon.social/", 1.5), ("https://fosstodon.org/", 1),
           ("https://l.instagram.com/", 1), ("https://bsky.app/", 1.5), ("android-app://com.slack/", 0.5),
           ("https://www.youtube.com/", 1.5), ("android-app://com.google.android.gm/", 1))
_OTHER_SITES = (("https://github.com/{word}/{word}", 5), ("https://stackoverflow.com/questions/{n}/", 4),
                ("https://dev.to/{name}/{word}-{word}-{short}", 2), ("https://medium.com/@{name}/{word}", 2),
                ("https://{name}.dev/links", 1), ("https://blog.{name}.me/{word}", 1),
                ("https://{name}-notes.net/", 0.5), ("https://www.{word}weekly.com/issues/{n}", 1))
_TLDS = ("de", "co.uk", "fr", "co.in", "ca", "nl", "com.br", "pl", "es", "it", "com.au")


@dataclass(frozen=True, slots=True)
class _Page:
    path: str
    section: str
    size: int
    images: tuple[str, ...]


class _Site:
    """A blog, docs, a shop and member profiles: a few pages get most views, many get a few."""

    def __init__(self, rng: random.Random) -> None:
        pages: list[tuple[_Page, float]] = [
            (_Page("/", "home", 18_400, ()), 120), (_Page("/about", "info", 9_200, ("/img/team.webp",)), 6),
            (_Page("/pricing", "info", 11_700, ()), 8), (_Page("/contact", "info", 7_100, ()), 3),
            (_Page("/blog/", "blog", 15_300, ()), 14), (_Page("/docs/", "docs", 12_800, ()), 12),
            (_Page("/products/", "shop", 21_000, ()), 10), (_Page("/cart", "shop", 8_100, ()), 4),
            (_Page("/login", "account", 6_300, ()), 4), (_Page("/account", "account", 9_900, ()), 3),
            (_Page("/search", "search", 10_400, ()), 5), (_Page("/users/", "community", 14_000, ()), 2),
        ]
        posts = []
        for i, w in enumerate(_zipf(90, 1.05)):
            slug = "-".join(rng.sample(_WORDS, rng.randint(2, 5)))
            year, month = (2026, 11 - i // 8) if i < 80 else (2025, 12 - (i - 80))
            path = f"/blog/{year}/{month:02d}/{slug}"
            posts.append(_Page(path, "blog", rng.randint(14_000, 60_000), (f"/img/blog/{slug}.webp",)))
            pages.append((posts[-1], 140 * w / 4))
        for tag in _WORDS[:14]:
            pages.append((_Page(f"/blog/tag/{tag}", "blog", 12_000, ()), 0.6))
        for w in _zipf(45, 1.0):
            topic = "/".join(rng.sample(_WORDS, rng.randint(1, 2)))
            pages.append((_Page(f"/docs/{topic}", "docs", rng.randint(8_000, 40_000), ()), 70 * w / 4.4))
        for i, w in enumerate(_zipf(2500, 0.9)):
            pid = 10_000 + rng.randrange(90_000)
            images = tuple(f"/img/products/{pid}-{k}.webp" for k in range(1, rng.randint(2, 4)))
            pages.append((_Page(f"/products/{pid}", "shop", rng.randint(16_000, 30_000), images), 90 * w / 40))
            if i < 300:
                pages.append((_Page(f"/products/{pid}/reviews", "shop", 12_000, ()), 6 * w / 6))
        for w in _zipf(400, 0.9):
            name = rng.choice((f"{rng.choice(_FIRST)}", f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}",
                               f"{rng.choice(_FIRST)}{rng.randint(1, 99)}", f"{rng.choice(_FIRST)}_{rng.choice(_LAST)}"))
            pages.append((_Page(f"/users/{name}", "community", rng.randint(9_000, 15_000),
                                (f"/avatars/{rng.randrange(100_000)}.png",)), 30 * w / 25))
        self.pages = [p for p, _ in pages]
        self.cum = list(accumulate(w for _, w in pages))
        self.by_section: dict[str, tuple[list[_Page], list[float]]] = {}
        for p, w in pages:
            ps, ws = self.by_section.setdefault(p.section, ([], []))
            ps.append(p)
            ws.append(w)
        for s, (ps, ws) in self.by_section.items():
            self.by_section[s] = (ps, list(accumulate(ws)))
        self.home = self.pages[0]
        self.posts = posts

    def popular(self, rng: random.Random) -> _Page:
        return self.pages[bisect(self.cum, rng.random() * self.cum[-1])]

    def in_section(self, rng: random.Random, section: str) -> _Page:
        ps, cum = self.by_section[section]
        return ps[bisect(cum, rng.random() * cum[-1])]

    def landing(self, rng: random.Random, source: str) -> _Page:
        """Search and social send readers to content; direct visitors start at the home page."""
        r = rng.random()
        if source == "direct":
            return self.home if r < 0.6 else self.popular(rng)
        if source == "social":
            return self.in_section(rng, "blog") if r < 0.7 else self.popular(rng)
        if r < 0.12:
            return self.home
        return self.in_section(rng, rng.choices(("blog", "docs", "shop", "community"), (40, 28, 25, 7))[0])

    def next(self, rng: random.Random, page: _Page) -> _Page:
        r = rng.random()
        if r < 0.5 and page.section not in ("home", "info", "search"):
            return self.in_section(rng, page.section)
        if r < 0.62:
            return self.home
        return self.popular(rng)

    def uniform(self, rng: random.Random) -> _Page:
        """What a crawler asks for: any page, the long tail as often as the head."""
        return rng.choice(self.pages)


def _referrer(rng: random.Random, source: str, country: str) -> str:
    if source == "direct":
        return "-"
    table = _SEARCH if source == "search" else _SOCIAL if source == "social" else _OTHER_SITES
    ref = _weighted(rng, table)
    name = f"{rng.choice(_FIRST)}{rng.choice(_LAST)}"
    return (ref.replace("{tld}", rng.choice(_TLDS) if country not in ("US",) else "com")
            .replace("{short}", f"{rng.getrandbits(40):010x}").replace("{word}", rng.choice(_WORDS))
            .replace("{n}", str(rng.randint(1000, 79_999_999))).replace("{name}", name))


# ---------------------------------------------------------------------------------------------
# Non-human clients

_CRAWLERS = (  # operator network, user agent, chance to visit on a day, requests per visit (at 250 visitors a day)
    ("yandex", "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", 0.5, 15),
    ("apple", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)", 0.4, 10),
    ("ahrefs", "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 0.7, 30),
    ("semrush", "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", 0.6, 25),
    ("openai", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", 0.5, 20),
    ("anthropic", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", 0.5, 20),
    ("bytedance", "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)", 0.3, 20),
    (None, "Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot; help@moz.com)", 0.2, 10),
    (None, "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)", 0.3, 10),
    (None, "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)", 0.2, 15),
    (None, "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", 0.2, 3),
    (None, "Mozilla/5.0 (compatible; SeznamBot/4.0; +https://o-seznam.cz/napoveda/vyhledavani/en/seznambot-crawler/)", 0.1, 5),
)
_GOOGLEBOT = ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.7444.59 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
              "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/142.0.7444.59 Safari/537.36",
              "Googlebot-Image/1.0")
_BINGBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"
_PREVIEWS = ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "Twitterbot/1.0",
             "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
             "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
             "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
             "TelegramBot (like TwitterBot)")
_SCRIPTS = ("curl/8.{q}.0", "curl/7.{q}8.0", "python-requests/2.3{q}.0", "Go-http-client/1.1", "Go-http-client/2.0",
            "Wget/1.2{q}.1", "axios/1.{q}.2", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
            "okhttp/4.1{q}.0", "Java/17.0.{q}", "libwww-perl/6.{q}2", "python-httpx/0.2{q}.0",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/14{q}.0.0.0 Safari/537.36")
_SELF_HOSTED_FEEDS = ("Miniflux/2.2.1{q} (+https://miniflux.app)", "FreshRSS/1.2{q}.1 (Linux; https://freshrss.org)",
                      "Tiny Tiny RSS/25.{q} (https://tt-rss.org/)", "NetNewsWire (RSS Reader; https://netnewswire.com/)")
_SCANNER_AGENTS = ("Mozilla/5.0 zgrab/0.x", "-", "python-requests/2.2{q}.0", "Go-http-client/1.1",
                   "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
                   "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:47.0) Gecko/20100101 Firefox/47.0",
                   "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/7{q}.0.3729.169 Safari/537.36",
                   "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                   "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.2 Safari/605.1.15")
_PROBES = ("/wp-login.php", "/.env", "/.git/config", "/wp-admin/", "/xmlrpc.php", "/phpmyadmin/index.php",
           "/admin/config.php", "/cgi-bin/luci", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/.aws/credentials",
           "/server-status", "/actuator/env", "/wp-content/plugins/{word}/readme.txt", "/backup.zip", "/config.json",
           "/.DS_Store", "/owa/auth/logon.aspx", "/boaform/admin/formLogin", "/HNAP1/", "/api/v1/pods")


# ---------------------------------------------------------------------------------------------
# Visitors and the day-by-day simulation

# Local hour -> relative activity: night lull, morning rise, lunch and evening peaks.
_DIURNAL = (1.2, 0.8, 0.5, 0.4, 0.4, 0.6, 1.2, 2.2, 3.2, 4.0, 4.4, 4.5, 4.4, 4.4, 4.3, 4.2, 4.0, 3.8, 3.8, 4.0,
            4.2, 3.9, 3.0, 2.0)
_DIURNAL_CUM = list(accumulate(_DIURNAL))
_WEEKDAY = (1.08, 1.08, 1.08, 1.08, 1.08, 0.8, 0.8)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(eq=False)
class _Human:
    id: int
    country: str
    device: str
    agent: _Agent
    home: _Isp
    home6: bool
    carrier: _Isp | None
    carrier6: bool
    wifi: float  # chance that a phone session is on the home network
    office: _Isp | None
    loyalty: float  # weight of coming back on a later day
    engagement: float  # heavy-tailed: pages and sessions scale with it
    home4: int = 0
    home64: int = 0
    iid: int = 0
    mobile4: int = 0
    mobile64: int = 0
    mobile_iid: int = 0
    cache: dict[str, int] = field(default_factory=dict)  # asset -> day it was fetched
    last_day: int = -1


@dataclass(slots=True)
class _Hit:
    t: float
    client: str
    visitor: int
    kind: str
    method: str
    target: str
    protocol: str
    status: int
    size: int
    referrer: str
    agent: str


class _Generator:
    def __init__(self, plan: _Plan, rng: random.Random, days: int, per_day: int, start: datetime) -> None:
        self.plan = plan
        self.rng = rng
        self.days = days
        self.per_day = per_day
        self.start = start.timestamp()
        self.weekday0 = start.weekday()
        self.site = _Site(random.Random(f"site-{rng.random()}"))
        self.hits: list[_Hit] = []
        self.ids = 0
        self.pool: list[_Human] = []
        self.codes = list(_COUNTRIES)
        self.country_cum = list(accumulate(c[0] for c in _COUNTRIES.values()))
        self.office_cum = list(accumulate(_zipf(len(plan.offices), 0.8)))
        self.hosting_cum = list(accumulate(i.weight for i in plan.hosting))
        self.office_policy = {id(o): (rng.random() < 0.55, rng.random() < 0.7) for o in plan.offices}
        self.asset_hash = [f"{rng.getrandbits(24):06x}" for _ in range(2)]
        self.deploy_day = min(2, days)  # the site is deployed: new asset names from this day on
        self.fixed: dict[str, int] = {}  # stable visitor ids of crawler fleets and services
        self.services: dict[str, tuple[list[str], str, int]] = {}  # name -> (addresses, user agent, period)

    # -- entry point

    def run(self) -> Log:
        for _ in range(self.per_day * 2):  # visitors from before the log: some of them return
            self.pool.append(self._new_human(0))
        for day in range(self.days):
            self._humans(day)
            self._crawlers(day)
            self._services(day)
            self._tools(day)
        end = self.start + self.days * DAY
        hits = sorted((h for h in self.hits if self.start <= h.t < end), key=lambda h: h.t)
        lines = [self._format(h) for h in hits]
        truth = [Truth(h.visitor, h.client, h.kind) for h in hits]
        return Log(lines, truth, self.plan.networks())

    def _id(self) -> int:
        self.ids += 1
        return self.ids

    def _fixed_id(self, name: str) -> int:
        if name not in self.fixed:
            self.fixed[name] = self._id()
        return self.fixed[name]

    # -- humans

    def _new_human(self, day: int) -> _Human:
        rng = self.rng
        country = self.codes[bisect(self.country_cum, rng.random() * self.country_cum[-1])]
        _, _, home6, mobile6 = _COUNTRIES[country]
        device = rng.choices(("desktop", "mobile", "tablet"), (46, 47, 7))[0]
        homes, cum = self.plan.homes[country]
        home = homes[bisect(cum, rng.random() * cum[-1])]
        carriers, ccum = self.plan.carriers[country]
        carrier = carriers[bisect(ccum, rng.random() * ccum[-1])] if device != "desktop" else None
        office = None
        agent = None
        if device == "desktop" and rng.random() < 0.15:
            office = self.plan.offices[bisect(self.office_cum, rng.random() * self.office_cum[-1])]
            edge, current = self.office_policy[id(office)]
            if rng.random() < 0.7:  # a managed desktop: the browser and version IT rolled out
                template = next(t for t in _TEMPLATES if t[0] == ("edge_win" if edge else "chrome_win"))
                agent = _agent(rng, device, day, template)
                agent.major = _current(template[3] or "chrome", day) - (0 if current else 1)
                agent.stuck = True  # updates come when IT rolls them out, not during a short log
                agent.params["win"] = "10.0"
                agent.render()
        loyalty = rng.choices((0.03, 0.25, 0.7), (70, 20, 10))[0]
        return _Human(
            id=self._id(), country=country, device=device, agent=agent or _agent(rng, device, day), home=home,
            home6=rng.random() < home6, carrier=carrier, carrier6=rng.random() < mobile6,
            wifi=0.9 if device == "tablet" else rng.uniform(0.2, 0.7), office=office, loyalty=loyalty,
            engagement=min(12.0, rng.lognormvariate(0, 0.9)),
        )

    def _humans(self, day: int) -> None:
        rng = self.rng
        weekday = (self.weekday0 + day) % 7
        n = max(1, round(self.per_day * _WEEKDAY[weekday] * rng.uniform(0.92, 1.08)))
        # Returning visitors: ~30% of a day's visitors, the loyal ones far more often.
        n_back = min(len(self.pool), round(n * 0.3))
        keys = sorted(self.pool, key=lambda h: rng.random() ** (1 / h.loyalty), reverse=True)
        active = keys[:n_back]
        new = [self._new_human(day) for _ in range(n - n_back)]
        self.pool.extend(new)
        for h in active + new:
            h.agent.update(rng, day)
            self._day_of(h, day, weekday)
            h.last_day = day

    def _day_of(self, h: _Human, day: int, weekday: int) -> None:
        rng = self.rng
        offset = _COUNTRIES[h.country][1]
        day_start = self.start + day * DAY
        # Once a day: home IPv4 may be renumbered (reconnects), IPv6 privacy addresses rotate daily,
        # and some ISPs hand out a new prefix too.
        if h.home4 and rng.random() < min(0.5, 0.04 * (day - h.last_day)):
            h.home4 = 0
        if h.home64 and rng.random() < (0.3 if h.country == "DE" else 0.02):
            h.home64 = 0
        h.iid = _iid(rng)
        sessions = 1 + min(5, _poisson(rng, 0.2 * h.engagement))
        for _ in range(sessions):
            local = (bisect(_DIURNAL_CUM, rng.random() * _DIURNAL_CUM[-1]) + rng.random()) * 3600
            t = day_start + (local - offset * 3600) % DAY
            at_work = h.office is not None and weekday < 5 and 8 <= local / 3600 < 18 and rng.random() < 0.8
            client = self._address(h, day, at_work)
            self._session(h, day, t, client)

    def _address(self, h: _Human, day: int, at_work: bool) -> str:
        """Where this session comes from: office NAT, carrier (CGNAT or a fresh IPv6 /64), or home."""
        rng = self.rng
        if at_work and h.office is not None:
            return str(ipaddress.IPv4Address(h.office.pool[h.id % len(h.office.pool)]))
        if h.carrier is not None and rng.random() > h.wifi:
            c = h.carrier
            if h.carrier6:
                if not h.mobile64 or rng.random() < 0.5:
                    h.mobile64 = c.subnet64(rng)
                    h.mobile_iid = 0
                if not h.mobile_iid or rng.random() < 0.5:
                    h.mobile_iid = _iid(rng)
                return str(ipaddress.IPv6Address(h.mobile64 | h.mobile_iid))
            if not h.mobile4 or rng.random() < 0.5:
                h.mobile4 = c.from_pool(rng)
            return str(ipaddress.IPv4Address(h.mobile4))
        if h.home6:
            if not h.home64:
                h.home64 = h.home.subnet64(rng, 56)
            return str(ipaddress.IPv6Address(h.home64 | h.iid))
        if not h.home4:
            h.home4 = h.home.fresh_v4(rng)
        return str(ipaddress.IPv4Address(h.home4))

    def _session(self, h: _Human, day: int, t: float, client: str) -> None:
        rng = self.rng
        source = rng.choices(("direct", "search", "social", "other"), (38, 42, 12, 8))[0]
        page = self.site.landing(rng, source)
        referrer = _referrer(rng, source, h.country)
        n_pages = 1 if rng.random() < 0.5 else 2 + min(70, _geometric(rng, 1.5 * h.engagement))
        ua = h.agent.text
        proto = "HTTP/1.1" if h.agent.stuck or rng.random() < 0.1 else "HTTP/2.0"
        query = ""
        if source == "social" and rng.random() < 0.4:
            query = rng.choice(("?utm_source=twitter&utm_medium=social", "?utm_source=newsletter&utm_medium=email",
                                "?ref=mastodon", "?utm_campaign=launch&utm_source=linkedin"))
        favicon_done = False
        for _ in range(n_pages):
            target = page.path + query
            method, status = "GET", 200
            if page.path == "/search":
                target = f"/search?q={'+'.join(rng.sample(_WORDS, rng.randint(1, 3)))}"
            r = rng.random()
            if r < 0.012:  # a stale link
                target, status = f"/blog/2019/0{rng.randint(1, 9)}/{rng.choice(_WORDS)}-{rng.choice(_WORDS)}", 404
            elif r < 0.016:
                status = 500
            size = page.size + rng.randint(-300, 300) if status == 200 else (196 if status == 404 else 531)
            self._hit(t, client, h.id, "human", method, target, proto, status, size, referrer, ua)
            url = SITE + page.path
            assets = list(_COMMON_ASSETS) + list(page.images)
            if not favicon_done:
                assets.append("/favicon.ico")
                favicon_done = True
            at = t
            for a in assets:
                a = a.replace("{h}", self.asset_hash[day >= self.deploy_day])
                seen = h.cache.get(a)
                if seen == day or (seen is not None and rng.random() < 0.85):
                    continue  # fresh in the browser cache: no request
                at += rng.uniform(0.02, 0.6)
                ext = a.rsplit(".", 1)[-1]
                revalidate = seen is not None
                self._hit(at, client, h.id, "human", "GET", a, proto, 304 if revalidate else 200,
                          0 if revalidate else _ASSET_SIZES.get(ext, 41_000 + len(a) * 997), url, ua)
                h.cache[a] = day
            if page.section == "shop" and page.path.startswith("/products/") and rng.random() < 0.06:
                at += rng.uniform(5, 40)
                self._hit(at, client, h.id, "human", "POST", "/cart", proto, 302, 0, url, ua)
            if page.path == "/login":
                at += rng.uniform(6, 30)
                ok = rng.random() < 0.85
                self._hit(at, client, h.id, "human", "POST", "/login", proto, 302 if ok else 200, 0 if ok else 6_400, url, ua)
            query = ""
            referrer = url
            t = at + min(1800.0, rng.lognormvariate(math.log(25), 1.1))
            page = self.site.next(rng, page)

    # -- crawlers, services and tools

    def _scale(self) -> float:
        return self.per_day / 250

    def _crawlers(self, day: int) -> None:
        rng, site = self.rng, self.site
        day_start = self.start + day * DAY
        for name, isp, agents, rate, n_active in (
            ("search-a", self.plan.crawlers["search-a"], _GOOGLEBOT, 0.5, (5, 10)),
            ("search-b", self.plan.crawlers["search-b"], (_BINGBOT,), 0.25, (3, 6)),
        ):
            vid = self._fixed_id(name)
            active = rng.sample(isp.pool, rng.randint(*n_active))
            v6 = [str(ipaddress.IPv6Address(isp.prefix6[0] | rng.getrandbits(16) << 16 | rng.getrandbits(16)))
                  for _ in range(2)]
            for _ in range(max(5, round(self.per_day * rate * rng.uniform(0.7, 1.3)))):
                t = day_start + rng.random() * DAY
                client = rng.choice(v6) if name == "search-a" and rng.random() < 0.2 else str(ipaddress.IPv4Address(rng.choice(active)))
                ua = rng.choices(agents, (75, 20, 5))[0] if len(agents) == 3 else agents[0]
                page = site.uniform(rng)
                target = rng.choice(page.images or (page.path,)) if ua.startswith("Googlebot-Image") else page.path
                if rng.random() < 0.03:
                    target = rng.choice(("/robots.txt", "/sitemap.xml"))
                status = 200 if rng.random() < 0.93 else rng.choice((301, 404, 304))
                self._hit(t, client, vid, "crawler", "GET", target, "HTTP/1.1", status,
                          page.size if status == 200 else 0, "-", ua)
        for network, ua, chance, n in _CRAWLERS:
            if rng.random() > chance:
                continue
            isp = self.plan.crawlers[network] if network else self._hosting()
            vid = self._fixed_id(ua)
            addresses = ([str(ipaddress.IPv4Address(a)) for a in rng.sample(isp.pool, rng.randint(1, 3))] if isp.pool
                         else [str(ipaddress.IPv4Address(isp.fresh_v4(rng))) for _ in range(rng.randint(1, 2))])
            t = day_start + rng.random() * DAY
            if rng.random() < 0.8:
                self._hit(t, rng.choice(addresses), vid, "crawler", "GET", "/robots.txt", "HTTP/1.1", 200, 311, "-", ua)
            for _ in range(max(1, round(n * math.sqrt(self._scale()) * rng.uniform(0.3, 1.7)))):
                t += rng.uniform(2, 90)
                page = site.uniform(rng)
                self._hit(t, rng.choice(addresses), vid, "crawler", "GET", page.path, "HTTP/1.1", 200, page.size, "-", ua)

    def _hosting(self) -> _Isp:
        return self.plan.hosting[bisect(self.hosting_cum, self.rng.random() * self.hosting_cum[-1])]

    def _services(self, day: int) -> None:
        """Link previews, feed readers and monitors: regular, from shared service networks."""
        rng = self.rng
        day_start = self.start + day * DAY
        social = self.plan.crawlers["social"]
        for _ in range(_poisson(rng, self.per_day / 50)):
            ua = rng.choice(_PREVIEWS)
            isp = social if ua.startswith("facebook") else self.plan.hosting[_PREVIEWS.index(ua) % len(self.plan.hosting)]
            client = str(ipaddress.IPv4Address(isp.from_pool(rng) if isp.pool else isp.fresh_v4(rng)))
            post = rng.choice(self.site.posts[:30])
            t = day_start + rng.random() * DAY
            vid = self._fixed_id(ua)
            self._hit(t, client, vid, "preview", "GET", post.path, "HTTP/1.1", 200, post.size, "-", ua)
            if rng.random() < 0.6:
                self._hit(t + rng.uniform(0.2, 2), client, vid, "preview", "GET", post.images[0], "HTTP/1.1", 200, 88_000, "-", ua)
        # Hosted feed readers poll on a schedule from a few addresses; an uptime monitor every 10 minutes.
        for name, ua, every, n_addr in (
            ("feedly", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; {n} subscribers)", 1800, 3),
            ("inoreader", "Mozilla/5.0 (compatible; inoreader.com; {n} subscribers)", 3600, 2),
            ("newsblur", "Mozilla/5.0 (compatible; NewsBlur Feed Fetcher - {n} subscribers - https://www.newsblur.com/site/4211/example)", 7200, 1),
            ("monitor", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", 600, 12),
        ):
            vid = self._fixed_id(name)
            if name not in self.services:
                isps = [self.plan.hosting[(vid + k) % len(self.plan.hosting)] for k in range(n_addr)]
                self.services[name] = ([str(ipaddress.IPv4Address(i.fresh_v4(rng))) for i in isps], ua, every)
            addresses = self.services[name][0]
            subscribers = str(max(1, round(self.per_day / 25)))
            kind = "monitor" if name == "monitor" else "feed"
            phase = rng.random() * every
            for k in range(int(DAY / every)):
                t = day_start + phase + k * every + rng.uniform(0, 5)
                method, target = ("HEAD", "/") if kind == "monitor" else ("GET", "/feed.xml")
                status = 200 if kind == "monitor" or rng.random() < 0.3 else 304  # the feed rarely changes
                size = 48_000 if method == "GET" and status == 200 else 0
                self._hit(t, rng.choice(addresses), vid, kind, method, target, "HTTP/1.1", status, size, "-",
                          ua.replace("{n}", subscribers))
        # Self-hosted feed readers: one person's server, polling hourly; a few desktop feed apps.
        for k in range(max(1, round(self.per_day / 120))):
            name = f"selfhosted-{k}"
            vid = self._fixed_id(name)
            if name not in self.services:
                isp = self._hosting() if rng.random() < 0.6 else self._any_home()
                agent = rng.choice(_SELF_HOSTED_FEEDS).replace("{q}", str(rng.randint(0, 9)))
                every = rng.choice((3600, 3600, 7200, 1800))
                self.services[name] = ([str(ipaddress.IPv4Address(isp.fresh_v4(rng)))], agent, every)
            (client,), agent, every = self.services[name]
            phase = (vid * 977) % every
            for j in range(int(DAY / every)):
                t = day_start + phase + j * every + rng.uniform(0, 3)
                self._hit(t, client, vid, "feed", "GET", "/feed.xml", "HTTP/1.1", 304 if rng.random() < 0.8 else 200,
                          0, "-", agent)

    def _any_home(self) -> _Isp:
        country = self.codes[bisect(self.country_cum, self.rng.random() * self.country_cum[-1])]
        homes, cum = self.plan.homes[country]
        return homes[bisect(cum, self.rng.random() * cum[-1])]

    def _tools(self, day: int) -> None:
        """Scripts people point at the site, the owner's health check, scrapers and vulnerability scanners."""
        rng = self.rng
        day_start = self.start + day * DAY
        # The site owner's cron health check: curl from one server every 15 minutes.
        vid = self._fixed_id("owner-check")
        if "owner-check" not in self.services:
            self.services["owner-check"] = ([str(ipaddress.IPv4Address(self.plan.hosting[0].fresh_v4(rng)))],
                                            "curl/8.5.0", 900)
        owner = self.services["owner-check"][0][0]
        for k in range(96):
            self._hit(day_start + 300 + k * 900 + rng.uniform(0, 2), owner, vid, "script", "GET", "/healthz",
                      "HTTP/1.1", 200, 2, "-", "curl/8.5.0")
        for _ in range(_poisson(rng, 1 + self.per_day / 100)):
            vid = self._id()
            isp = self._hosting() if rng.random() < 0.7 else self._any_home()
            client = str(ipaddress.IPv4Address(isp.fresh_v4(rng)))
            ua = rng.choice(_SCRIPTS).replace("{q}", str(rng.randint(0, 9)))
            t = day_start + rng.random() * DAY
            every = rng.choice((1.0, 3.0, 60.0, 600.0))
            for _ in range(1 + _geometric(rng, 4)):
                target = rng.choice(("/feed.xml", "/", "/sitemap.xml", self.site.popular(rng).path,
                                     f"/api/v1/products/{rng.randint(10_000, 99_999)}"))
                self._hit(t, client, vid, "script", "GET", target, "HTTP/1.1", 200, 12_000, "-", ua)
                t += every * rng.uniform(0.8, 1.2)
        # Scrapers behind residential proxies: a few requests per address, posing as a common browser.
        for _ in range(_poisson(rng, self.per_day / 15)):
            vid = self._id()
            isp = self._any_home()
            if rng.random() < 0.4:
                client = str(ipaddress.IPv6Address(isp.subnet64(rng, 56) | _iid(rng)))
            else:
                client = str(ipaddress.IPv4Address(isp.fresh_v4(rng)))
            ua = _agent(rng, "desktop", day, _TEMPLATES[0]).text
            t = day_start + rng.random() * DAY
            for _ in range(rng.choice((1, 1, 2, 3))):
                page = self.site.uniform(rng)
                self._hit(t, client, vid, "scraper", "GET", page.path, "HTTP/1.1", 200, page.size, "-", ua)
                t += rng.uniform(0.5, 20)
        for _ in range(_poisson(rng, 2 + self.per_day / 150)):
            vid = self._id()
            client = str(ipaddress.IPv4Address(self._hosting().fresh_v4(rng)))
            ua = rng.choice(_SCANNER_AGENTS).replace("{q}", str(rng.randint(0, 9)))
            t = day_start + rng.random() * DAY
            for _ in range(rng.randint(3, 60)):
                target = rng.choice(_PROBES).replace("{word}", rng.choice(_WORDS))
                status = 403 if target.startswith("/.") else 301 if target.endswith("/") and rng.random() < 0.3 else 404
                self._hit(t, client, vid, "scanner", rng.choice(("GET", "GET", "GET", "POST")), target, "HTTP/1.1",
                          status, 196, "-", ua)
                t += rng.uniform(0.1, 4)

    # -- output

    def _hit(self, t: float, client: str, visitor: int, kind: str, method: str, target: str, protocol: str,
             status: int, size: int, referrer: str, agent: str) -> None:
        self.hits.append(_Hit(t, client, visitor, kind, method, target, protocol, status, size, referrer, agent))

    def _format(self, h: _Hit) -> str:
        """Apache's combined format: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"."""
        stamp = _clf(int(h.t))
        size = str(h.size) if h.size else "-"
        return (f'{h.client} - - [{stamp}] "{h.method} {h.target} {h.protocol}" {h.status} {size} '
                f'"{h.referrer}" "{h.agent}"')


def _stats(log: Log) -> Stats:
    addresses = {t.client for t in log.truth}
    daily: dict[str, dict[str, set[str]]] = {}
    for line, t in zip(log.lines, log.truth, strict=True):
        if "." in t.client:
            nets = daily.setdefault(line[line.index("[") + 1:][:11], {})
            nets.setdefault(t.client.rsplit(".", 1)[0], set()).add(t.client)
    shares = [sum(len(a) == 1 for a in nets.values()) / len(nets) for nets in daily.values()]
    per24: dict[str, int] = {}
    per48: dict[str, int] = {}
    for a in addresses:
        ip = ipaddress.ip_address(a)
        if ip.version == 4:
            key = a.rsplit(".", 1)[0]
            per24[key] = per24.get(key, 0) + 1
        else:
            key = ip.exploded[:14]
            per48[key] = per48.get(key, 0) + 1
    n6 = sum(per48.values())
    return Stats(
        lines=len(log.lines),
        visitors=len({t.visitor for t in log.truth}),
        addresses=len(addresses),
        ipv6_addresses=n6 / len(addresses) if addresses else 0.0,
        slash24s=len(per24),
        single_address_24s=sum(1 for n in per24.values() if n == 1) / len(per24) if per24 else 0.0,
        single_address_24s_daily=sum(shares) / len(shares) if shares else 0.0,
        slash48s=len(per48),
        single_address_48s=sum(1 for n in per48.values() if n == 1) / len(per48) if per48 else 0.0,
        human_lines=sum(1 for t in log.truth if t.kind == "human") / len(log.truth) if log.truth else 0.0,
    )


def _clf(t: int) -> str:
    d = datetime.fromtimestamp(t, UTC)
    return f"{d.day:02d}/{_MONTHS[d.month - 1]}/{d.year}:{d.hour:02d}:{d.minute:02d}:{d.second:02d} +0000"


def _iid(rng: random.Random) -> int:
    return rng.getrandbits(64) | 1


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; fine for the small rates used here."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _geometric(rng: random.Random, mean: float) -> int:
    """Failures before a success, with the given mean: a heavy-ish tail of pages per session."""
    if mean <= 0:
        return 0
    p = 1 / (1 + mean)
    return int(math.log(1 - rng.random()) / math.log(1 - p))


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.visitors OUT``: write a log, its ground truth and its networks to OUT."""
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("out")
    p.add_argument("--days", type=int, default=4)
    p.add_argument("--visitors-per-day", type=int, default=250)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    log = generate(a.days, a.visitors_per_day, a.seed)
    print(log.write(a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
