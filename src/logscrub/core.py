"""The pure core: one raw line in, its outputs out.

No I/O and no Kafka here, so the Kafka worker, the local ``scrub`` driver
and the tests all run exactly the same privacy code. A line becomes either an
anonymized event plus an aggregate update plus a sealed raw envelope, or a
rejection (reason + sealed line). Nothing raises for bad input.

Analytics records are built field by field from generalized values only (an
allowlist): nothing from the parsed request is copied through as-is.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from logscrub import envelope
from logscrub.aggregate import AggUpdate
from logscrub.config import Config
from logscrub.keys import KeyRing
from logscrub.parsing.record import ParseError, Request
from logscrub.parsing.registry import Parser
from logscrub.privacy.geo import GeoInfo, GeoLookup
from logscrub.privacy.ip import IPGeneralizer, client_ip, parse_ip
from logscrub.privacy.referrer import ReferrerGeneralizer, clean_hostname
from logscrub.privacy.url import PathGeneralizer
from logscrub.privacy.useragent import UAGeneralizer

EVENT_SCHEMA = "logscrub.event/1"
REJECT_TOO_LONG = "too_long"
REJECT_EMPTY = "empty"
METHODS = frozenset(
    "GET HEAD POST PUT DELETE PATCH OPTIONS CONNECT TRACE PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK "
    "REPORT SEARCH PURGE".split()
)
PROTOCOLS = frozenset(("HTTP/0.9", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/2.0", "HTTP/3", "HTTP/3.0"))
OTHER = "(other)"
_NO_GEO = GeoInfo(None, None, None)


@dataclass(slots=True)
class Outcome:
    """What one line becomes. Exactly one of ``event``/``reason`` is set."""

    event: dict[str, Any] | None
    update: AggUpdate | None
    sealed: dict[str, Any]  # for security.raw when an event, for logs.rejected when a rejection
    reason: str | None = None


class Scrubber:
    """Holds the per-process caches and key rings; ``process`` is the whole privacy pipeline."""

    def __init__(
        self,
        cfg: Config,
        parser: Parser,
        visitor_keys: KeyRing,
        data_keys: KeyRing,
        geo: GeoLookup | None = None,
    ) -> None:
        self.cfg = cfg
        self.parser = parser
        self.visitor_keys = visitor_keys
        self.data_keys = data_keys
        self.geo = geo
        self.max_line = cfg.input.max_line_bytes
        self.default_site = cfg.input.site
        self.trusted = tuple(ipaddress.ip_network(c, strict=False) for c in cfg.ip.trusted_proxies)
        self.ips = IPGeneralizer(cfg.ip.mode, cfg.ip.ipv4_prefix, cfg.ip.ipv6_prefix)
        self.uas = UAGeneralizer()
        self.paths = PathGeneralizer(cfg.url.path_rules, cfg.url.query_allow)
        self.referrers = ReferrerGeneralizer(cfg.referrer.internal_domains)
        self.granularity = cfg.events.time_granularity
        self.window = cfg.aggregate.window
        self.dimensions = cfg.aggregate.dimensions
        self._time_cache: dict[int, str] = {}
        self._sites: dict[str | None, str] = {}

    def process(self, line: bytes, now: float, source: str | None = None) -> Outcome:
        """Never raises for any ``line``; ``now`` is the ingestion time (drives data-key rotation)."""
        if len(line) > self.max_line:
            return self._reject(line[: self.max_line], now, REJECT_TOO_LONG, source)
        line = line.rstrip(b"\r\n")
        if not line.strip():
            return self._reject(line, now, REJECT_EMPTY, source)
        try:
            req = self.parser(line.decode("utf-8", "replace"))
        except ParseError as e:
            return self._reject(line, now, e.reason, source)
        event, update = self._anonymize(req)
        sealed = envelope.seal(line, self.data_keys.current(now), now, source=source)
        return Outcome(event, update, sealed)

    def _reject(self, line: bytes, now: float, reason: str, source: str | None) -> Outcome:
        sealed = envelope.seal(line, self.data_keys.current(now), now, reason, source)
        return Outcome(None, None, sealed, reason)

    def _anonymize(self, req: Request) -> tuple[dict[str, Any], AggUpdate]:
        t = req.time.timestamp()
        ip = client_ip(req.client, req.forwarded_for, self.trusted)
        geo = self.geo.lookup(ip) if self.geo is not None and ip is not None else _NO_GEO
        vkey = self.visitor_keys.current(t).secret
        ua_text = req.user_agent or ""
        visitor = _visitor_hash(vkey, ip.packed if ip is not None else b"", ua_text)
        ua = self.uas(req.user_agent)
        path, query = self.paths(req.target)
        site = self._site(req.host)
        ref_domain, ref_class = self.referrers(req.referrer, site)
        status = req.status
        status_class = f"{status // 100}xx" if status is not None else "other"
        method = req.method if req.method in METHODS else (OTHER if req.method else None)
        protocol = req.protocol if req.protocol in PROTOCOLS else (OTHER if req.protocol else None)

        event: dict[str, Any] = {
            "schema": EVENT_SCHEMA,
            "time": self._coarse_time(t),
            "site": site,
            "method": method,
            "path": path,
            "protocol": protocol,
            "status": status,
            "status_class": status_class,
            "bytes": req.bytes,
            "client": self.ips(ip, vkey),
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

        values = {
            "path": path or "(none)",
            "country": geo.country or "(unknown)",
            "browser": f"{ua.browser} {ua.browser_major}" if ua.browser_major else ua.browser,
            "os": f"{ua.os} {ua.os_major}" if ua.os_major else ua.os,
            "device": ua.device,
            "referrer": ref_domain or ("(direct)" if ref_class == "none" else f"({ref_class})"),
        }
        update = AggUpdate(
            site=site,
            window=int(t // self.window) * self.window,
            visitor=visitor,
            bytes=req.bytes,
            status_class=status_class,
            dims=tuple((d, values[d]) for d in self.dimensions),
        )
        return event, update

    def _coarse_time(self, t: float) -> str:
        slot = int(t // self.granularity) * self.granularity
        s = self._time_cache.get(slot)
        if s is None:
            if len(self._time_cache) > 4096:
                self._time_cache.clear()
            s = self._time_cache[slot] = datetime.fromtimestamp(slot, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return s

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


def _visitor_hash(key: bytes, packed_ip: bytes, user_agent: str) -> int:
    """A 63-bit keyed hash of (IP, user agent): distinct-visitor counting without a visitor id."""
    digest = hashlib.blake2b(packed_ip + b"\x00" + user_agent.encode("utf-8", "replace"), key=key, digest_size=8)
    return int.from_bytes(digest.digest()) >> 1
