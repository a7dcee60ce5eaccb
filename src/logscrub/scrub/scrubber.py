"""The pure core: one raw line in, its outcome out (an event, a rejection, or a restricted line).

No I/O: every driver runs exactly this. Analytics records are built field by field from
generalized values only, nothing from the request is copied through; nothing raises for bad input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from logscrub.crypto import envelope
from logscrub.scrub.aggregate import AggUpdate
from logscrub.config import DIMENSIONS, Config
from logscrub.crypto.keyring import Key, KeyRing
from logscrub.parsing.record import ParseError, Request
from logscrub.parsing.formats import EMPTY, TOO_LONG, Parser
from logscrub.privacy.geo import GeoInfo, GeoLookup
from logscrub.privacy.ip import IPGeneralizer, client_ip, networks, parse_ip
from logscrub.privacy.referrer import ReferrerGeneralizer, clean_hostname
from logscrub.privacy.url import PathGeneralizer
from logscrub.privacy.useragent import UAGeneralizer
from logscrub.crypto.subjects import UNATTRIBUTED, SubjectKeys

EVENT_SCHEMA = "logscrub.event/1"
METHODS = frozenset(
    "GET HEAD POST PUT DELETE PATCH OPTIONS CONNECT TRACE PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK "
    "REPORT SEARCH PURGE".split()
)
PROTOCOLS = frozenset(("HTTP/0.9", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/2.0", "HTTP/3", "HTTP/3.0"))
OTHER = "(other)"
_NO_GEO = GeoInfo(None, None, None)
_STATUS_CLASS = {code: f"{code // 100}xx" for code in range(100, 600)}
_REFERRER_VALUE = {"none": "(direct)"}  # aggregate value of a referrer without a domain, by class
_CACHE_MAX = 65536  # entries per cache below; a full cache is emptied, not evicted entry by entry


@dataclass(slots=True)
class Outcome:
    """What one line becomes: an event, a rejection (``reason``), or ``restricted`` (neither)."""

    event: dict[str, Any] | None
    update: AggUpdate | None
    sealed: dict[str, Any]  # for security.raw when an event or restricted, for logs.rejected when a rejection
    reason: str | None = None
    restricted: bool = False  # the client asked to be kept out of analytics: sealed only


class Scrubber:
    """Holds the per-process caches and key rings; ``process`` is the whole privacy pipeline."""

    def __init__(
        self,
        cfg: Config,
        parser: Parser,
        visitor_keys: KeyRing,
        data_keys: KeyRing,
        geo: GeoLookup | None = None,
        subjects: SubjectKeys | None = None,
        restricted: Callable[[bytes], bool] | None = None,
    ) -> None:
        """``subjects``: seal each line under its client's subject key (erasable one by one);
        ``restricted(packed address)``: whether that client is kept out of analytics."""
        self.cfg = cfg
        self.subjects = subjects
        self.restricted = restricted
        self.parser = parser
        self.visitor_keys = visitor_keys
        self.data_keys = data_keys
        self.geo = geo
        self.max_line = cfg.input.max_line_bytes
        self.default_site = cfg.input.site
        self.trusted = networks(cfg.ip.trusted_proxies)
        self.ips = IPGeneralizer(cfg.ip.mode, cfg.ip.ipv4_prefix, cfg.ip.ipv6_prefix)
        self.uas = UAGeneralizer()
        self.paths = PathGeneralizer(cfg.url.path_rules, cfg.url.query_allow)
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
        # visitor key (hashes, pseudonyms) is dropped with every key change, never kept past its key.
        self._times: dict[datetime, tuple[str, int, float]] = {}  # time -> (coarse time, window start, epoch)
        self._agents: dict[str | None, tuple[Any, str, str]] = {}  # user agent -> (UAInfo, browser, os values)
        self._keyed_by: str | None = None  # id of the visitor key the two caches below were made with
        self._clients: dict[Any, tuple[bytes, str | None, GeoInfo]] = {}  # -> (packed IP, published IP, geo)
        self._visitors: dict[tuple[Any, str | None], int] = {}  # (client, user agent) -> visitor hash

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
        event, update, packed = self._anonymize(req)
        sealed = self._seal(line, key, now, None, source, packed)
        if self.restricted is not None and self.restricted(packed):
            return Outcome(None, None, sealed, None, True)
        return Outcome(event, update, sealed)

    def _reject(self, line: bytes, key: Key, now: float, reason: str, source: str | None) -> Outcome:
        return Outcome(None, None, self._seal(line, key, now, reason, source, _leading_address(line)), reason)

    def _seal(
        self, line: bytes, key: Key, now: float, reason: str | None, source: str | None, packed: bytes
    ) -> dict[str, Any]:
        subject = self.subjects.for_subject(key, packed) if self.subjects is not None else None
        return envelope.seal(line, key, now, reason, source, subject)

    def _anonymize(self, req: Request) -> tuple[dict[str, Any], AggUpdate, bytes]:
        slot = self._times.get(req.time) or self._time_slot(req.time)
        vkey = self.visitor_keys.current(slot[2])
        if vkey.kid != self._keyed_by:
            self._clients.clear()
            self._visitors.clear()
            self._keyed_by = vkey.kid
        client_key = (req.client, req.forwarded_for) if self.trusted else req.client
        client = self._clients.get(client_key) or self._client(client_key, req, vkey.secret)
        ua_text = req.user_agent
        visitor = self._visitors.get((client_key, ua_text))
        if visitor is None:
            visitor = self._visitor(client_key, client[0], ua_text, vkey.secret)
        ua, browser_value, os_value = self._agents.get(ua_text) or self._agent(ua_text)
        path, query = self.paths(req.target)
        site = self._sites.get(req.host) or self._site(req.host)
        ref_domain, ref_class = self.referrers(req.referrer, site)
        geo = client[2]
        status = req.status
        status_class = _STATUS_CLASS.get(status) or (f"{status // 100}xx" if status is not None else "other")
        method = req.method if req.method in METHODS else (OTHER if req.method else None)
        protocol = req.protocol if req.protocol in PROTOCOLS else (OTHER if req.protocol else None)

        event: dict[str, Any] = {
            "schema": EVENT_SCHEMA,
            "time": slot[0],
            "site": site,
            "method": method,
            "path": path,
            "protocol": protocol,
            "status": status,
            "status_class": status_class,
            "bytes": req.bytes,
            "client": client[1],
            "country": geo.country,
            "asn": geo.asn,
            "as_org": geo.as_org,
            "browser": ua.browser,
            "browser_major": ua.browser_major,
            "os": ua.os,
            "os_major": ua.os_major,
            "device": ua.device,
            "bot": ua.bot,
            "referrer_domain": ref_domain,
            "referrer_class": ref_class,
        }
        if query:
            event["query"] = query
        if req.duration is not None:
            event["duration_ms"] = round(req.duration * 1000)

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
        return event, AggUpdate(site, slot[1], visitor, req.bytes, status_class, dims), client[0]

    def _time_slot(self, time: datetime) -> tuple[str, int, float]:
        t = time.timestamp()
        if len(self._times) >= _CACHE_MAX:
            self._times.clear()
        slot = self._times[time] = (self._coarse_time(t), int(t // self.window) * self.window, t)
        return slot

    def _client(self, key: Any, req: Request, secret: bytes) -> tuple[bytes, str | None, GeoInfo]:
        ip = client_ip(req.client, req.forwarded_for, self.trusted)
        geo = self.geo.lookup(ip) if self.geo is not None and ip is not None else _NO_GEO
        if len(self._clients) >= _CACHE_MAX:
            self._clients.clear()
        client = self._clients[key] = (ip.packed if ip is not None else b"", self.ips(ip, secret), geo)
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

    def _coarse_time(self, t: float) -> str:
        slot = int(t // self.granularity) * self.granularity
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
        """A virtual host is only published when it is a plain DNS name (a Host header is client-controlled)."""
        site = self._sites.get(host)
        if site is None:
            if host is None or host in ("", "-"):
                site = self.default_site
            elif parse_ip(host) is not None:
                site = "(ip)"
            else:
                site = clean_hostname(host) or "(invalid)"
            if len(self._sites) > 10_000:
                self._sites.clear()
            self._sites[host] = site
        return site


def _leading_address(line: bytes) -> bytes:
    """The address a rejected line starts with (common log formats do), so that an erasure reaches
    its record too; b"" (one shared subject key) when there is none."""
    ip = parse_ip(line[:64].split(b" ", 1)[0].decode("ascii", "replace"))
    return ip.packed if ip is not None else UNATTRIBUTED


def _visitor_hash(key: bytes, packed_ip: bytes, user_agent: str) -> int:
    """A 63-bit keyed hash of (IP, user agent): distinct-visitor counting without a visitor id."""
    digest = hashlib.blake2b(packed_ip + b"\x00" + user_agent.encode("utf-8", "replace"), key=key, digest_size=8)
    return int.from_bytes(digest.digest()) >> 1
