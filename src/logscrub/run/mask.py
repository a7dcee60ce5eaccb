"""``logscrub mask``: a log in, the same log out with every personal field generalized, like anonip.

Built from the core's own parts, so a field gets the same value here as on the analytics topics:
the format parsers read the line (and say where each field sits), the scrubber's generalizers
decide the client (``ip.*``, trusted proxies and X-Forwarded-For included), the path template and
allowed query, the referrer's registrable domain, the user agent and the site. Repeating values
are cached on their logged text, as the core caches them.

What is written, per field: the client generalized (a truncated address without its ``/prefix``,
a pseudonym, or ``-``); ident and remote user ``-``; the time, status and size as logged; the
request line with its path templated and its query reduced to ``url.query_allow``; the referrer
as ``https://DOMAIN/`` (or ``-``); the user agent generalized, or kept (see ``keep_agent``);
X-Forwarded-For removed. Text nobody parsed (trailing fields, JSON fields the parser does not
read, and unparsed lines when asked to pass them) is masked: addresses and emails redacted, paths
templated, URLs reduced to their domain, and every word the path rules find personal replaced.

Pseudonyms use a daily key made in memory and never stored: two runs give different pseudonyms.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import chain
from typing import Any, BinaryIO
from urllib.parse import unquote, urlencode

import orjson

from logscrub.config import Config, GeoIPConfig
from logscrub.crypto.keyring import Key
from logscrub.errors import Refused
from logscrub.files.read import Inputs
from logscrub.ops.logsetup import redact
from logscrub.parsing.clf import parse_located
from logscrub.parsing.detect import SAMPLE_LINES, detect_format
from logscrub.parsing.formats import EMPTY, TOO_LONG
from logscrub.parsing.jsonlines import CADDY_FIELDS, NGINX_FIELDS, TRAEFIK_FIELDS
from logscrub.parsing.record import ParseError, Request
from logscrub.privacy.ip import IPGeneralizer, client_ip, parse_ip
from logscrub.privacy.referrer import registrable_domain
from logscrub.privacy.url import classify_segment
from logscrub.privacy.useragent import OTHER, UAInfo
from logscrub.run.progress import Progress
from logscrub.scrub import build
from logscrub.scrub.scrubber import METHODS, PROTOCOLS

UNPARSED_MODES = ("drop", "mask")
AGENT_MODES = ("generalize", "keep")
MASKABLE = ("common", "combined", "vhost_combined", "json")
NGINX_UNSUPPORTED = (
    "mask does not support input.format nginx: its parser does not say where each variable sits, so "
    "fields it does not read would pass unmasked; log with escape=json (input.format json) or the "
    "combined format instead"
)
OTHER_METHOD = "OTHER"  # a method token outside the known ones: client-chosen text
_CACHE_MAX = 65536  # entries per cache; a full cache is emptied, like the core's
_TEXT_CACHE_MAX = 8192
_MAX_CACHED = 2048  # longer values are rare and would bloat a cache (a line may hold 64 KiB): computed each time
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')  # what a quoted CLF field must escape
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # in free text: no line breaks, no terminal escapes
_WORD = re.compile(r"[^\s\"']+")  # a path or URL is one word, whatever brackets it holds
_PIECE = re.compile(r"[^<>\[\](){}|,;&]+")  # the pieces of any other word
_AGENT_WORD = re.compile(r"[^\s;()]+")
_SHORT_NUMBER = re.compile(r"\d{1,6}(?:\.\d+)?")  # durations, ports, counts in trailing fields
_TOKEN_PLACEHOLDERS = frozenset(("{token}", "{hash}", "{uuid}", "{email}", "{long}"))
# JSON fields by what the parser reads them as: (paths, field) for every dialect, so whichever the
# parser chose, every copy is replaced. Fields not named here are masked as free text.
_SAFE_FIELDS = frozenset(("time", "status", "bytes", "duration", "duration_ns"))


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    return "\\" + c if c in '"\\' else f"\\x{ord(c):02x}"


def quoted(text: str) -> str:
    """``text`` as a quoted CLF field holds it: the inverse of the parsers' unescaping (no raw
    newline can ever split a written line)."""
    return _UNSAFE.sub(_escape, text)


def agent_text(info: UAInfo) -> str:
    """A generalized user agent as one readable string: ``Firefox/128 (Windows 10; desktop)``."""
    browser = f"{info.browser}/{info.browser_major}" if info.browser_major else info.browser
    system = f"{info.os} {info.os_major}" if info.os_major else info.os
    return f"{browser} ({system}; {info.device})"


@dataclass
class MaskSummary:
    format: str = ""
    lines: int = 0
    written: int = 0
    unparsed: Counter[str] = field(default_factory=Counter)
    unparsed_mode: str = "drop"
    seconds: float = 0.0

    def render(self) -> str:
        """One line for stderr."""
        rate = self.lines / self.seconds if self.seconds else 0.0
        text = f"mask: {self.lines:,} line{'' if self.lines == 1 else 's'} ({self.format}), {self.written:,} written"
        bad = sum(self.unparsed.values())
        if bad:
            how = "passed masked" if self.unparsed_mode == "mask" else "dropped"
            reasons = ", ".join(f"{r}: {n:,}" for r, n in self.unparsed.most_common())
            text += f", {bad:,} not parsed and {how} ({reasons})"
        return text + f", {self.seconds:.2f}s ({rate:,.0f} lines/s)"


class Masker:
    """One line in, its masked form out (or None: an unparsed line, dropped). No I/O."""

    def __init__(self, cfg: Config, fmt: str, unparsed: str = "drop", user_agent: str = "generalize") -> None:
        """``fmt`` is resolved (not ``auto``); ``unparsed``: drop or mask; ``user_agent``: generalize or keep."""
        if fmt == "nginx":
            raise Refused(NGINX_UNSUPPORTED)
        if fmt not in MASKABLE:
            raise Refused(f"mask cannot rewrite input.format {fmt!r}; it reads {', '.join(MASKABLE)}")
        if unparsed not in UNPARSED_MODES or user_agent not in AGENT_MODES:
            raise ValueError(f"unparsed must be one of {UNPARSED_MODES}, user_agent one of {AGENT_MODES}")
        visitor, data = build.key_rings(cfg, None)  # no store: the keys live in this process only
        # No GeoIP: nothing mask writes comes from it, and the databases cost memory.
        core = build.scrubber(dataclasses.replace(cfg, geoip=GeoIPConfig()), fmt, visitor, data)
        self.format = fmt
        self._json = fmt == "json"
        self._vhost = 1 if fmt == "vhost_combined" else 0
        self._combined = fmt in ("combined", "vhost_combined")
        self._parse: Callable[[str], Any] = core.parser if self._json else partial(parse_located, fmt)
        self._paths, self._referrers, self._uas = core.paths, core.referrers, core.uas
        self._ips = IPGeneralizer(cfg.ip.mode, cfg.ip.ipv4_prefix, cfg.ip.ipv6_prefix)  # ip.* is mask's own
        self._trusted = core.trusted
        self._site = core.site
        self._visitor = visitor
        self._pseudonym = cfg.ip.mode == "pseudonym"
        self._max_line = cfg.input.max_line_bytes
        self._mask_unparsed = unparsed == "mask"
        self._keep_agents = user_agent == "keep"
        self._absent: str | None = None if self._json else "-"
        self._quote: Callable[[str], str] = (lambda s: s) if self._json else quoted
        self._json_fields = _json_paths(cfg.input.json_fields) if self._json else {}
        # Caches on the logged text (values from a visitor key are dropped with that key).
        self._keys: dict[datetime, Key] = {}
        self._kid: str | None = None
        self._secret: bytes | None = None
        self._clients: dict[Any, str | None] = {}
        self._requests: dict[tuple[str | None, str | None, str | None], str | None] = {}
        self._targets: dict[str, str | None] = {}
        self._referrer_texts: dict[str | None, str | None] = {}
        self._agents: dict[str | None, str | None] = {}
        self._texts: dict[str, str] = {}
        self._keys_seen: dict[str, str] = {}
        self.lines = 0
        self.written = 0
        self.unparsed: Counter[str] = Counter()

    # ---- one line ----------------------------------------------------------------------------

    def line(self, raw: bytes) -> str | None:
        """The masked line without its newline, or None when it is dropped."""
        self.lines += 1
        if len(raw) >= self._max_line:  # the core counts the newline this has lost
            return self._unparsed(raw[: self._max_line].decode("utf-8", "replace"), TOO_LONG)
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if not text or text.isspace():
            return self._unparsed(text, EMPTY)
        try:
            out = self._rewrite_json(text) if self._json else self._rewrite_clf(*self._parse(text))
        except ParseError as e:
            return self._unparsed(text, e.reason)
        self.written += 1
        return out

    def tick(self) -> None:
        """Destroy keys whose day is over, with everything made from them; call once per batch."""
        if self._visitor.expire():
            self._keys.clear()
            self._clients.clear()
            self._kid = self._secret = None

    def _unparsed(self, text: str, reason: str) -> str | None:
        self.unparsed[reason] += 1
        if not self._mask_unparsed:
            return None
        self.written += 1
        return self.free_text(text)

    def _rewrite_clf(self, req: Request, m: re.Match[str]) -> str:
        o = self._vhost
        s = m.string
        head = f"{self._site(req.host)}{s[m.end(1):m.start(2) - 1]} " if o else ""
        out = (
            f'{head}{self._client(req)} - - [{m.group(3 + o)}] "{self._request(req)}" '
            f"{m.group(5 + o)} {m.group(6 + o)}"
        )
        if self._combined:
            out += f' "{self._referrer(req.referrer)}" "{self._agent(req.user_agent)}"'
            end = m.end(m.lastindex or 0) + 1  # past the user agent's closing quote
        else:
            end = m.end(6 + o)
        if end < len(s):  # trailing fields no parser reads (%D, $request_time, ...): free text
            out += self.free_text(s[end:])
        return out

    def _rewrite_json(self, text: str) -> str:
        req = self._parse(text)  # the same parse as every driver's: rejects what they reject
        return orjson.dumps(self._json_node(orjson.loads(text), (), req)).decode()

    def _json_node(self, value: Any, where: tuple[str, ...], req: Request) -> Any:
        """``value`` at ``where`` (keys from the top; "[]" for a list's items), rewritten in place."""
        known = self._json_fields.get(where)
        kind = type(value)
        if known is not None and kind is not dict:  # Caddy's "request" is an object, nginx's a line
            return value if known in _SAFE_FIELDS else self._json_value(known, value, req)
        if kind is str:
            return self.free_text(value)
        if kind is dict:
            renamed = False
            for key, item in value.items():
                value[key] = self._json_node(item, (*where, key), req)
                renamed = renamed or self._key(key) is not key
            if renamed:  # a key is client text too (Caddy logs every request header by its name)
                return {self._key(key): item for key, item in value.items()}
        elif kind is list:
            return [self._json_node(item, (*where, "[]"), req) for item in value]
        return value

    def _key(self, key: str) -> str:
        """A JSON key with addresses and emails redacted; the same object when there are none."""
        hit = self._keys_seen.get(key)
        if hit is None:
            hit = redact(key)
            if hit == key:
                hit = key
            _remember(self._keys_seen, key, hit, _TEXT_CACHE_MAX, key)
        return hit

    def _json_value(self, name: str, value: Any, req: Request) -> Any:
        new: Any
        if name == "client":
            new = self._client(req)
        elif name == "target":
            new = self._target(req.target) if req.target else None
        elif name == "request":
            new = self._request(req)
        elif name == "referrer":
            new = self._referrer(req.referrer)
        elif name == "user_agent":
            new = self._agent(req.user_agent)
        elif name == "host":
            new = self._site(req.host)
        elif name == "method":
            new = value if value in METHODS or value is None else OTHER_METHOD
        elif name == "protocol":
            new = value if value in PROTOCOLS else None
        else:  # user, forwarded_for: removed
            new = None
        if type(value) is list:  # Caddy logs each header as a list of values
            return [] if new is None else [new]
        return new

    # ---- fields ------------------------------------------------------------------------------

    def _client(self, req: Request) -> str | None:
        if self._pseudonym:
            self._rekey(req.time)
        key = (req.client, req.forwarded_for) if self._trusted else req.client
        hit = self._clients.get(key, self)
        if hit is self:
            published = self._ips(client_ip(req.client, req.forwarded_for, self._trusted), self._secret)
            hit = self._absent if published is None else published.partition("/")[0]
            _remember(self._clients, key, hit, _CACHE_MAX, req.forwarded_for)
        return hit  # type: ignore[return-value]

    def _rekey(self, t: datetime) -> None:
        """The pseudonym key of the line's day (event time, as the core keys visitors)."""
        key = self._keys.get(t)
        if key is None:
            key = self._visitor.current(t.timestamp())
            if len(self._keys) >= 4096:
                self._keys.clear()
            self._keys[t] = key
        if key.kid != self._kid:
            self._clients.clear()
            self._kid, self._secret = key.kid, key.secret

    def _request(self, req: Request) -> str | None:
        key = (req.method, req.target, req.protocol)
        hit = self._requests.get(key, self)
        if hit is self:
            target = self._target(req.target) if req.target else None
            if target is None:
                hit = self._absent
            else:
                method = req.method if req.method in METHODS else OTHER_METHOD
                protocol = f" {req.protocol}" if req.protocol in PROTOCOLS else ""
                hit = self._quote(f"{method} {target}{protocol}")
            _remember(self._requests, key, hit, _CACHE_MAX, req.target)
        return hit  # type: ignore[return-value]

    def _target(self, target: str) -> str | None:
        """Path template and allowed query (unquoted: callers quote)."""
        hit = self._targets.get(target, self)
        if hit is self:
            path, params = self._paths(target)
            hit = path if path is None or not params else f"{path}?{urlencode(params, safe='{}')}"
            _remember(self._targets, target, hit, _CACHE_MAX, target)
        return hit  # type: ignore[return-value]

    def _referrer(self, referrer: str | None) -> str | None:
        hit = self._referrer_texts.get(referrer, self)
        if hit is self:
            domain = self._referrers(referrer, None)[0]
            hit = self._absent if domain is None else f"https://{domain}/"
            _remember(self._referrer_texts, referrer, hit, _CACHE_MAX, referrer)
        return hit  # type: ignore[return-value]

    def _agent(self, agent: str | None) -> str | None:
        hit = self._agents.get(agent, self)
        if hit is self:
            if agent is None:
                hit = self._absent
            else:
                info = self._uas(agent)
                kept = self._keep_agents and info.browser != OTHER
                hit = self._quote(self.keep_agent(agent) if kept else agent_text(info))
            _remember(self._agents, agent, hit, _CACHE_MAX, agent)
        return hit  # type: ignore[return-value]

    # ---- free text ---------------------------------------------------------------------------

    def keep_agent(self, agent: str) -> str:
        """A user agent kept as logged but for what marks a person: emails, addresses, URLs on
        private hosts and long tokens. Only called for agents whose browser ua-parser names: a
        free-text agent (``jdoe-bot``) is generalized instead. Words in it are not checked for names."""
        return _AGENT_WORD.sub(self._agent_word, agent)

    def _agent_word(self, m: re.Match[str]) -> str:
        word = m.group()
        lower = word.lower()
        if "@" in word or "%40" in lower:
            return "{email}"
        if parse_ip(word.lstrip("+")) is not None:
            return "{ip}"
        if "://" in word:
            host = word.split("://", 1)[1]
            return word if registrable_domain(host.split("/", 1)[0].rpartition("@")[2]) else "{url}"
        parts = word.split("/")
        for i, part in enumerate(parts):
            if len(part) >= 16 and classify_segment(unquote(part)) in _TOKEN_PLACEHOLDERS:
                parts[i] = "{token}"
        return "/".join(parts)

    def free_text(self, text: str) -> str:
        """Text no parser read, masked: addresses and emails redacted (the rule log messages
        follow), paths templated, URLs reduced to their domain, personal-looking words replaced."""
        hit = self._texts.get(text)
        if hit is None:
            hit = _CONTROL.sub(_escape, _WORD.sub(self._free_word, redact(text)))
            _remember(self._texts, text, hit, _TEXT_CACHE_MAX, text)
        return hit

    def _free_word(self, m: re.Match[str]) -> str:
        word = m.group()
        if word[0] == "/":
            return self._target(word) or "-"
        if "://" in word:
            return self._referrer(word) or "-"
        return _PIECE.sub(self._free_piece, word)

    def _free_piece(self, m: re.Match[str]) -> str:
        piece = m.group()
        if piece[0] == "/":
            return self._target(piece) or "-"
        if _SHORT_NUMBER.fullmatch(piece):
            return piece
        return classify_segment(unquote(piece)) or piece


def _remember(cache: dict[Any, Any], key: Any, value: Any, most: int, text: str | None) -> None:
    """Cache ``value`` unless ``text`` (the long part of its key) is long; a full cache is emptied:
    memory stays bounded whatever the input."""
    if text is not None and len(text) > _MAX_CACHED:
        return
    if len(cache) >= most:
        cache.clear()
    cache[key] = value


def _json_paths(overrides: dict[str, str]) -> dict[tuple[str, ...], str]:
    """Every path any JSON dialect reads a field from (and the configured ones) -> the field."""
    paths: dict[tuple[str, ...], str] = {}
    for dialect in (CADDY_FIELDS, TRAEFIK_FIELDS, NGINX_FIELDS):
        for name, candidates in dialect.items():
            for candidate in candidates:
                paths.setdefault(tuple(candidate.split(".")), name)
    for name, path in overrides.items():
        paths[tuple(path.split("."))] = name
    return paths


def mask(
    cfg: Config,
    inputs: Inputs,
    out: BinaryIO,
    *,
    unparsed: str = "drop",
    user_agent: str = "generalize",
    progress: bool | None = None,
    flush: bool | None = None,
) -> MaskSummary:
    """Mask every line of ``inputs`` onto ``out``. ``flush`` (default: when an input is a pipe or a
    terminal) passes each group of lines on as soon as it is read, so a piped log never waits in a
    buffer; the format is decided from the first lines read, never by waiting for more."""
    started = time.perf_counter()
    batches = inputs.batches(cfg.input.max_line_bytes)
    first = next(batches, [])
    fmt = cfg.input.format
    if fmt == "auto":  # one format for the whole output, from the first lines
        fmt = detect_format([b.decode("utf-8", "replace") for b in first[:SAMPLE_LINES]])
    masker = Masker(cfg, fmt, unparsed, user_agent)
    flush = inputs.interactive if flush is None else flush
    show = Progress(inputs, progress)
    line, write = masker.line, out.write
    try:
        for batch in chain((first,), batches):
            masked = [text for text in map(line, batch) if text is not None]
            if masked:
                masked.append("")
                write("\n".join(masked).encode())
            if flush:
                out.flush()
            masker.tick()
            show.update(masker.lines)
    finally:
        show.close()
        out.flush()
    return MaskSummary(fmt, masker.lines, masker.written, masker.unparsed, unparsed, time.perf_counter() - started)
