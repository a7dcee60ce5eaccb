"""The pure core: one raw line in, its outcome out (an event, a rejection, or a restricted line).

No I/O: every driver runs exactly this. Analytics records are built field by field from
generalized values only, nothing from the request is copied through; nothing raises for bad input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from logscrub.crypto import envelope
from logscrub.scrub.aggregate import AggUpdate
from logscrub.config import DIMENSIONS, Config
from logscrub.crypto.keyring import Key, KeyNeeded, KeyRing
from logscrub.parsing.record import ParseError, Request
from logscrub.parsing.formats import EMPTY, TOO_LONG, Parser
from logscrub.privacy.geo import GeoInfo, GeoLookup
from logscrub.privacy.ip import IPGeneralizer, client_ip, networks, parse_ip, publishable_address
from logscrub.privacy.referrer import ReferrerGeneralizer, clean_hostname
from logscrub.privacy.url import PathGeneralizer
from logscrub.privacy.useragent import UAGeneralizer
from logscrub.crypto.subjects import UNATTRIBUTED, SubjectKeys
from logscrub.scrub.vocabulary import DayVocabulary, Vocabulary

EVENT_SCHEMA = "logscrub.event/2"
METHODS = frozenset(
    "GET HEAD POST PUT DELETE PATCH OPTIONS CONNECT TRACE PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK "
    "REPORT SEARCH PURGE".split()
)
PROTOCOLS = frozenset(("HTTP/0.9", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/2.0", "HTTP/3", "HTTP/3.0"))
OTHER = "(other)"
RARE = "(rare)"  # a value fewer than k clients showed today
_NO_GEO = GeoInfo(None, None, None)
_STATUS_CLASS = {code: f"{code // 100}xx" for code in range(100, 600)}
# Aggregate value of a referrer without a domain, by class; never "(other)", the folded bucket's name.
_REFERRER_VALUE = {"none": "(direct)", "other": "(no domain)"}
_CACHE_MAX = 65536  # entries per cache below; a full cache is emptied, not evicted entry by entry
# The fields that describe the client, in this order in a description tuple.
# The protocol too: HTTP/1.0 against HTTP/2 tells clients apart as a major version does.
DESCRIPTION = (
    "site", "browser", "browser_major", "os", "os_major", "device", "bot", "country", "asn", "as_org", "protocol"
)  # fmt: skip
# Coarser and coarser descriptions, by the positions they keep: all; no majors or protocol; no AS;
# no country; no OS; only site and browser; only site, device and bot. Past the last, every field is (rare).
LEVELS = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), (0, 1, 3, 5, 6, 7, 8, 9), (0, 1, 3, 5, 6, 7), (0, 1, 3, 5, 6), (0, 1, 5, 6),
    (0, 1), (0, 5, 6),
)
_ALL_RARE = (RARE, RARE, None, RARE, None, RARE, None, None, None, None, None)
_DROPPED = tuple(RARE if j in (1, 3) else None for j in range(len(DESCRIPTION)))  # a field a level does not keep


def coarsened(level: int) -> dict[str, Any]:
    """The client fields an event of a finer level changes to be published at ``level``
    (``len(LEVELS)``: the last resort), for the window owner's share cap (``slots.Groups``)."""
    if level >= len(LEVELS):
        return dict(zip(DESCRIPTION, _ALL_RARE, strict=True))
    return {f: _DROPPED[j] for j, f in enumerate(DESCRIPTION) if j not in LEVELS[level]}


PATH_SEGMENTS, PATH_LENGTH = 12, 256  # path templates: segments examined, characters published


@dataclass(slots=True)
class Outcome:
    """What one line becomes: an event, a rejection (``reason``), ``restricted`` (neither), or
    ``withheld`` (sealed only: it would have been a second event of one client alone in the group
    showing no field; counted in no aggregate either, or a window's requests minus its events would
    give it back)."""

    event: dict[str, Any] | None
    update: AggUpdate | None
    sealed: dict[str, Any]  # for security.raw unless a rejection, then for logs.rejected
    reason: str | None = None
    restricted: bool = False  # the client asked to be kept out of analytics: sealed only
    timestamp_ms: int | None = None  # the event's coarse time, for its record's timestamp
    withheld: bool = False


@dataclass(slots=True)
class Done:
    """How far a core got through a run of lines: all of them, or up to a line whose key must
    first be claimed (``need``; the caller claims it and runs the lines left)."""

    lines: int
    need: KeyNeeded | None


class Routes(Protocol):
    """Where a core puts what lines become (``routing.Routed``)."""

    newline: bool

    def add(self, o: Outcome) -> None: ...

    def add_batch(self, batch: Any) -> None: ...


class _Client:
    """What one client address gives, under one visitor key."""

    __slots__ = ("packed", "published", "geo", "identity")

    def __init__(self, packed: bytes, published: str | None, geo: GeoInfo, identity: int) -> None:
        self.packed = packed  # the address as logged: subject keys and restrictions are per address
        self.published = published  # events.client: network or pseudonym; None by default
        self.geo = geo
        self.identity = identity  # keyed hash of the IPv4 address or IPv6 /64: who counts towards k


class Scrubber:
    """Holds the per-process caches, key rings and the day's vocabulary; ``process`` is the whole
    privacy pipeline."""

    name = "python"  # the reference (scrub/native_core.py holds the compiled twin)

    def __init__(
        self,
        cfg: Config,
        parser: Parser,
        visitor_keys: KeyRing,
        data_keys: KeyRing,
        geo: GeoLookup | None = None,
        subjects: SubjectKeys | None = None,
        restricted: Callable[[bytes], bool] | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        """``subjects``: seal each line under its client's subject key (erasable one by one);
        ``restricted(packed address)``: whether that client is kept out of analytics;
        ``vocabulary``: the day's counts, shared with other workers (a fresh one by default)."""
        self.cfg = cfg
        self.subjects = subjects
        self.restricted = restricted
        self.parser = parser
        self.visitor_keys = visitor_keys
        self.data_keys = data_keys
        self.geo = geo
        self.vocabulary = vocabulary or Vocabulary(cfg.aggregate.k)
        self.max_line = cfg.input.max_line_bytes
        self.default_site = cfg.input.site
        self.sites = _SiteList(cfg.input.sites)
        self.trusted = networks(cfg.ip.trusted_proxies)
        self.client_mode = cfg.events.client
        self.ips = IPGeneralizer(
            "pseudonym" if self.client_mode == "pseudonym" else "truncate", cfg.ip.ipv4_prefix, cfg.ip.ipv6_prefix
        )
        self.uas = UAGeneralizer()
        self.paths = PathGeneralizer(cfg.url.path_rules, cfg.url.query_allow, PATH_SEGMENTS, PATH_LENGTH)
        self.referrers = ReferrerGeneralizer(cfg.referrer.internal_domains)
        self.granularity = cfg.events.time_granularity
        self.window = cfg.aggregate.window
        self.dimensions = cfg.aggregate.dimensions
        # Positions of the configured dimensions among all of them; None when they are all, in order.
        self._dim_index = (
            None if tuple(self.dimensions) == DIMENSIONS else tuple(DIMENSIONS.index(d) for d in self.dimensions)
        )
        self._time_cache: dict[int, str] = {}
        self._sites: dict[str | None, str] = {}
        # Per-line work that repeats is cached on the raw field text. Whatever is derived from the
        # visitor key (hashes, pseudonyms, the day's vocabulary) is dropped with every key change.
        self._times: dict[datetime, tuple[str, int, float, int]] = {}  # -> (coarse, window, epoch, coarse ms)
        self._agents: dict[str | None, tuple[Any, str, str]] = {}  # user agent -> (UAInfo, browser, os values)
        self._keyed_by: str | None = None  # id of the visitor key the caches below were made with
        self._day: DayVocabulary | None = None
        self._period = -1  # the latest visitor-key period seen
        self._ids_key = b""
        self._all_rare = 0  # the group of events showing no field: its hash under the day's key
        self._clients: dict[Any, _Client] = {}
        self._visitors: dict[tuple[Any, str | None], int] = {}  # (client, user agent) -> visitor hash
        self._levels: dict[tuple[Any, ...], tuple[int, ...]] = {}  # description -> its levels' value hashes
        self._shown: dict[tuple[tuple[Any, ...], int], tuple[Any, ...]] = {}  # (description, level) -> fields

    def run(self, lines: Sequence[bytes], now: float, sources: Sequence[str] | None, routed: Routes) -> Done:
        """``process`` each line into ``routed``, until the end or a ``KeyNeeded`` (the line it
        stopped at changed nothing: run it again once the key is claimed)."""
        add, process = routed.add, self.process
        for i, line in enumerate(lines):
            try:
                add(process(line, now, None if sources is None else sources[i]))
            except KeyNeeded as need:
                return Done(i, need)
        return Done(len(lines), None)

    def process(self, line: bytes, now: float, source: str | None = None) -> Outcome:
        """Never raises for any ``line`` (only KeyNeeded, from a key store whose answer must be awaited);
        ``now`` is the ingestion time (drives data-key rotation)."""
        key = self.data_keys.current(now)  # first: nothing changes before the line has its keys
        if len(line) > self.max_line:
            return self._reject(line[: self.max_line], key, now, TOO_LONG, source)
        line = line.rstrip(b"\r\n")
        if not line or line.isspace():
            return self._reject(line, key, now, EMPTY, source)
        try:
            req = self.parser(line.decode("utf-8", "replace"))
        except ParseError as e:
            return self._reject(line, key, now, e.reason, source)
        slot = self._times.get(req.time) or self._time_slot(req.time)
        vkey = self.visitor_keys.current(slot[2])
        if vkey.kid != self._keyed_by:
            self._rekey(vkey)
        client_key = (req.client, req.forwarded_for) if self.trusted else req.client
        client = self._clients.get(client_key) or self._client(client_key, req, vkey.secret)
        sealed = self._seal(line, key, now, None, source, client.packed)
        if self.restricted is not None and self.restricted(client.packed):
            return Outcome(None, None, sealed, None, True)  # nothing derived from it: not even a count
        event, update = self._anonymize(req, slot, client, client_key, vkey.secret, source, line)
        if event is None:
            return Outcome(None, None, sealed, withheld=True)
        return Outcome(event, update, sealed, timestamp_ms=slot[3])

    def _reject(self, line: bytes, key: Key, now: float, reason: str, source: str | None) -> Outcome:
        return Outcome(None, None, self._seal(line, key, now, reason, source, _leading_address(line)), reason)

    def _seal(
        self, line: bytes, key: Key, now: float, reason: str | None, source: str | None, packed: bytes
    ) -> dict[str, Any]:
        subject = self.subjects.for_subject(key, packed) if self.subjects is not None else None
        return envelope.seal(line, key, now, reason, source, subject)

    def _rekey(self, vkey: Key) -> None:
        self._clients.clear()
        self._visitors.clear()
        self._levels.clear()
        self._keyed_by = vkey.kid
        before, self._day = self._day, self.vocabulary.day(vkey.kid, vkey.secret)
        if before is not None and not self._day.seeded and vkey.period > self._period:
            self._day.seed(before.published_values())  # yesterday's vocabulary starts today's
        self._period = max(self._period, vkey.period)
        self._ids_key = hashlib.blake2b(b"logscrub/event-id", key=vkey.secret, digest_size=32).digest()
        self._all_rare = self._day.value(("c", *_ALL_RARE))

    def _anonymize(
        self, req: Request, slot: tuple[str, int, float, int], client: _Client, client_key: Any, secret: bytes,
        source: str | None, line: bytes,
    ) -> tuple[dict[str, Any], AggUpdate] | tuple[None, None]:
        day = self._day
        assert day is not None
        who = client.identity
        ua_text = req.user_agent
        visitor = self._visitors.get((client_key, ua_text))
        if visitor is None:
            visitor = self._visitor(client_key, client.packed, ua_text, secret)
        ua, browser_value, os_value = self._agents.get(ua_text) or self._agent(ua_text)
        path, query = self.paths(req.target)
        site = self._sites.get(req.host) or self._site(req.host)
        ref_domain, ref_class = self.referrers(req.referrer, site)
        geo = client.geo
        status = req.status
        status_class = _STATUS_CLASS.get(status) or (f"{status // 100}xx" if status is not None else "other")
        method = req.method if req.method in METHODS else (OTHER if req.method else None)
        protocol = req.protocol if req.protocol in PROTOCOLS else (OTHER if req.protocol else None)

        # Invariant 2: the description, the path and the referrer domain only as k clients showed them today.
        description = (site, ua.browser, ua.browser_major, ua.os, ua.os_major, ua.device, ua.bot,
                       geo.country, geo.asn, geo.as_org, protocol)  # fmt: skip
        # The join rule, per day. Within the event's slot the window owner applies it (slots.Groups): it sees
        # every worker's events of the slot, and a check here would only coarsen events before it does.
        hashes = self._levels.get(description) or self._level_hashes(description, day)
        level = len(hashes)
        for i, h in enumerate(hashes):  # every level counts this client; the finest it may join wins
            if day.shown(h, who) and i < level and day.joins(h, who):
                level = i
        # The last resort, every field (rare), is a group too: a client alone in it gets one event there;
        # a line whose event may join no group is withheld: sealed, and in no published number.
        if level == len(hashes) and not day.joins(self._all_rare, who):
            return None, None
        shown = self._shown.get((description, level)) or self._described(description, level)
        shown_path = path if path is None or day.shown(day.value(("p", site, path)), who) else RARE
        shown_ref = ref_domain if ref_domain is None or day.shown(day.value(("r", site, ref_domain)), who) else RARE

        dims = (  # in DIMENSIONS order
            ("path", path or "(none)"),
            ("country", geo.country or "(unknown)"),
            ("browser", browser_value),
            ("os", os_value),
            ("device", ua.device),
            ("referrer", ref_domain or _REFERRER_VALUE.get(ref_class) or f"({ref_class})"),
        )
        if self._dim_index is not None:
            dims = tuple(map(dims.__getitem__, self._dim_index))
        update = AggUpdate(site, slot[1], visitor, who, req.bytes, status_class, dims)

        event: dict[str, Any] = {"schema": EVENT_SCHEMA}
        if source is not None:  # the same for a replayed line, and says nothing without the day's key
            # The line too: scrub's source is a line number, and two runs of one day share the key.
            event["id"] = hashlib.blake2b(
                b"%s\0%s" % (source.encode(), line), key=self._ids_key, digest_size=10
            ).hexdigest()
        event |= {
            "time": slot[0],
            "site": shown[0],
            "method": method,
            "path": shown_path,
            "protocol": shown[10],
            "status": status,
            "status_class": status_class,
            "bytes": req.bytes,
            "browser": shown[1],
            "browser_major": shown[2],
            "os": shown[3],
            "os_major": shown[4],
            "device": shown[5],
            "bot": shown[6],
            "country": shown[7],
            "asn": shown[8],
            "as_org": shown[9],
            "referrer_domain": shown_ref,
            "referrer_class": ref_class,
        }
        if self.client_mode != "none":
            event["client"] = client.published
        if query and shown_path is not RARE:
            event["query"] = query
        if req.duration is not None:
            event["duration_ms"] = round(req.duration * 1000)
        return event, update

    def _level_hashes(self, description: tuple[Any, ...], day: DayVocabulary) -> tuple[int, ...]:
        """Each level's hash, of the fields it publishes: levels publishing the same fields (no
        GeoIP, say) are one value and one group, counted once."""
        hashes = tuple(day.value(("c", *self._described(description, i))) for i in range(len(LEVELS)))
        if len(self._levels) >= _CACHE_MAX:
            self._levels.clear()
        self._levels[description] = hashes
        return hashes

    def _described(self, description: tuple[Any, ...], level: int) -> tuple[Any, ...]:
        if level >= len(LEVELS):
            fields = _ALL_RARE
        else:
            keep = LEVELS[level]
            fields = tuple(description[j] if j in keep else _DROPPED[j] for j in range(11))
        if len(self._shown) >= _CACHE_MAX:
            self._shown.clear()
        self._shown[(description, level)] = fields
        return fields

    def _time_slot(self, time: datetime) -> tuple[str, int, float, int]:
        t = time.timestamp()
        if len(self._times) >= _CACHE_MAX:
            self._times.clear()
        coarse = int(t // self.granularity) * self.granularity
        slot = self._times[time] = (self._coarse_time(coarse), int(t // self.window) * self.window, t, coarse * 1000)
        return slot

    def _client(self, key: Any, req: Request, secret: bytes) -> _Client:
        ip = client_ip(req.client, req.forwarded_for, self.trusted)
        if ip is None:
            client = _Client(b"", None, _NO_GEO, _identity(secret, b""))
        else:
            pub = publishable_address(ip)  # a 6to4 or NAT64 client is the IPv4 client it carries
            geo = self.geo.lookup(pub) if self.geo is not None else _NO_GEO
            published = self.ips(pub, secret) if self.client_mode != "none" else None
            client = _Client(ip.packed, published, geo, _identity(secret, pub.packed[:8] if pub.version == 6 else pub.packed))
        if len(self._clients) >= _CACHE_MAX:
            self._clients.clear()
        self._clients[key] = client
        return client

    def _visitor(self, client_key: Any, packed_ip: bytes, ua_text: str | None, secret: bytes) -> int:
        if len(self._visitors) >= _CACHE_MAX:
            self._visitors.clear()
        visitor = self._visitors[(client_key, ua_text)] = _visitor_hash(secret, packed_ip, ua_text or "")
        return visitor

    def _agent(self, ua_text: str | None) -> tuple[Any, str, str]:
        ua = self.uas(ua_text)
        if len(self._agents) >= _CACHE_MAX:
            self._agents.clear()
        agent = self._agents[ua_text] = (
            ua,
            f"{ua.browser} {ua.browser_major}" if ua.browser_major else ua.browser,
            f"{ua.os} {ua.os_major}" if ua.os_major else ua.os,
        )
        return agent

    def _coarse_time(self, slot: int) -> str:
        s = self._time_cache.get(slot)
        if s is None:
            if len(self._time_cache) > 4096:
                self._time_cache.clear()
            s = self._time_cache[slot] = datetime.fromtimestamp(slot, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return s

    def site(self, host: str | None) -> str:
        """The published name of a virtual host: the one rule for sites (``logscrub mask`` uses it too)."""
        return self._sites.get(host) or self._site(host)

    def _site(self, host: str | None) -> str:
        """A virtual host is published only when it is a plain DNS name, and one of ``input.sites``
        when that list is set (a Host header is whatever the client sent)."""
        site = self._sites.get(host)
        if site is None:
            if host is None or host in ("", "-"):
                site = self.default_site
            elif parse_ip(host) is not None:
                site = "(ip)"
            else:
                name = clean_hostname(host)
                site = "(invalid)" if name is None else name if self.sites.allows(name) else OTHER
            if len(self._sites) > 10_000:
                self._sites.clear()
            self._sites[host] = site
        return site


class _SiteList:
    """``input.sites``: exact names and ``*.domain`` for any name under a domain; empty allows any name."""

    def __init__(self, sites: tuple[str, ...]) -> None:
        self.exact = frozenset(s.lower() for s in sites if not s.startswith("*."))
        self.suffixes = tuple(s[1:].lower() for s in sites if s.startswith("*."))
        self.any = not sites

    def allows(self, name: str) -> bool:
        return self.any or name in self.exact or name.endswith(self.suffixes)


def _leading_address(line: bytes) -> bytes:
    """The address a rejected line starts with (common log formats do), so that an erasure reaches
    its record too; b"" (one shared subject key) when there is none."""
    ip = parse_ip(line[:64].split(b" ", 1)[0].decode("ascii", "replace"))
    return ip.packed if ip is not None else UNATTRIBUTED


def _identity(key: bytes, address: bytes) -> int:
    """A 63-bit keyed hash of who counts towards k: the IPv4 address, or the IPv6 /64 (privacy
    extensions give one device many addresses in its /64)."""
    return int.from_bytes(hashlib.blake2b(address, key=key, digest_size=8, person=b"logscrub-client").digest()) >> 1


def _visitor_hash(key: bytes, packed_ip: bytes, user_agent: str) -> int:
    """A 63-bit keyed hash of (IP, user agent): distinct-visitor counting without a visitor id."""
    digest = hashlib.blake2b(packed_ip + b"\x00" + user_agent.encode("utf-8", "replace"), key=key, digest_size=8)
    return int.from_bytes(digest.digest()) >> 1
