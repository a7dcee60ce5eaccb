"""User agent -> browser/OS family and major, device class, bot flag.

Parsing goes through ua-parser's native (Rust) resolver: the pure-Python
parser behind ``user_agents.parse`` is ~40x slower and would bound a worker's
throughput. The device class is still decided by ``user_agents``' own rules,
applied to the native result, so it matches what that library would say.

Some ua-parser rules copy free text from the UA into the family (generic
``...bot`` or ``<app>/1.0 CFNetwork`` rules), and a client can put anything
there, its author's user name included (``jdoe-bot``). No shape check can
tell a user name from a product name, so a family is published only if it is
a name ua-parser's rules spell out (a literal replacement, or one of the
finitely many strings the captured group can match, like ``Googlebot`` in
``(...|Googlebot|...)``) or a well-known crawler that ua-parser only finds
through its generic rules. Anything else is "Other" (still a bot if it is
one).
"""

from __future__ import annotations

import re

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from re import _constants as sre  # type: ignore[attr-defined]  # the stdlib's regex parser: no public API
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Protocol

from ua_parser import load_lazy_builtins
from ua_parser.regex import Resolver  # imports ua_parser_rs: fail loudly rather than parse slowly
from user_agents.parsers import Browser, Device, UserAgent, parse_operating_system

OTHER = "Other"

# Longer strings are cut before parsing: keeps cache memory bounded; real UAs are far shorter.
_MAX_UA_LENGTH = 1024
_MAX_MAJOR_LENGTH = 5
_MAX_EXPANSION = 5000  # strings per regex group; bigger groups are treated as free text
_MAX_REPEAT = 3

# Crawlers that ua-parser names only through its free-text rules (checked against ua-parser 1.0).
_KNOWN_CRAWLERS = frozenset({
    "360Spider", "AdIdxBot", "AhrefsBot", "Amazonbot", "Applebot", "Baiduspider", "BLEXBot", "Bytespider",
    "CCBot", "ClaudeBot", "coccocbot", "DataForSeoBot", "Diffbot", "Discordbot", "DotBot", "DuckDuckBot",
    "Exabot", "Googlebot-Image", "Googlebot-News", "Googlebot-Video", "ImagesiftBot", "MojeekBot",
    "OAI-SearchBot", "PerplexityBot", "PetalBot", "Screaming Frog SEO Spider", "serpstatbot", "SeznamBot",
    "Sogou web spider", "TelegramBot", "UptimeRobot", "YandexBot", "YandexImages", "YandexMobileBot",
    "YisouSpider",
})


@dataclass(frozen=True, slots=True)
class UAInfo:
    browser: str  # family, e.g. "Firefox", "Chrome Mobile", "Other"
    browser_major: str | None  # digits only
    os: str  # e.g. "Windows", "Android", "Other"
    os_major: str | None  # digits only
    device: str  # "desktop" | "mobile" | "tablet" | "bot" | "other"
    bot: bool


UNKNOWN = UAInfo(OTHER, None, OTHER, None, "other", False)


# A node of the stdlib's parsed-regex tree: (opcode, argument).
_Node = tuple[Any, Any]


def _finite(items: Iterable[_Node]) -> set[str] | None:
    """Strings a parsed regex sequence matches, if finitely many; free-text branches are left out."""
    strings = {""}
    for op, arg in items:
        if op is sre.AT:  # anchors and word boundaries match no text
            continue
        options = _finite_item(op, arg)
        if options is None:
            return None
        strings = {head + tail for head in strings for tail in options}
        if len(strings) > _MAX_EXPANSION:
            return None
    return strings


def _finite_item(op: Any, arg: Any) -> set[str] | None:
    if op is sre.LITERAL:
        return {chr(arg)}
    if op is sre.SUBPATTERN:
        return _finite(arg[3])
    if op is sre.BRANCH:
        found = [strings for branch in arg[1] if (strings := _finite(branch)) is not None]
        return set().union(*found) if found else None
    if op is sre.IN:
        return _finite_class(arg)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        low, high, body = arg
        inner = _finite(body) if high <= _MAX_REPEAT else None
        if inner is None:
            return None
        found, current = set(), {""}
        for count in range(high + 1):
            if count >= low:
                found |= current
            current = {head + tail for head in current for tail in inner}
        return found if len(found) <= _MAX_EXPANSION else None
    return None


def _finite_class(items: Iterable[_Node]) -> set[str] | None:
    chars: set[str] = set()
    for op, arg in items:
        if op is sre.LITERAL:
            chars.add(chr(arg))
        elif op is sre.RANGE:
            chars.update(map(chr, range(arg[0], arg[1] + 1)))
        elif op is sre.CATEGORY and arg is sre.CATEGORY_DIGIT:
            chars.update("0123456789")
        else:
            return None
    return chars


def _group_one(items: Iterable[_Node]) -> list[_Node] | None:
    for op, arg in items:
        if op is sre.SUBPATTERN and arg[0] == 1:
            return list(arg[3])
        if op is sre.SUBPATTERN:
            children = [arg[3]]
        elif op is sre.BRANCH:
            children = arg[1]
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            children = [arg[2]]
        else:
            children = []
        for child in children:
            if (found := _group_one(child)) is not None:
                return found
    return None


def _spelled_out(family: str, regex: str) -> set[str]:
    """Every family a rule can produce without copying free text from the UA."""
    if "$" not in family:
        return {family}
    if "$" in family.replace("$1", ""):
        return set()
    group = _group_one(sre_parse.parse(regex))
    captured = _finite(group) if group is not None else None
    names = {family.replace("$1", text) for text in captured or ()}
    return names | {name.strip() for name in names}  # OS families come out stripped, browser ones as captured


_MATCHERS = load_lazy_builtins()
_PUBLISHABLE_FAMILIES = _KNOWN_CRAWLERS.union(
    *(_spelled_out(m.family, m.regex) for m in (*_MATCHERS[0], *_MATCHERS[1]))
)


def is_publishable_family(family: str) -> bool:
    """Only names fixed in advance: a family copied from the UA could be its author's user name."""
    return family in _PUBLISHABLE_FAMILIES


def _major(value: str | None) -> str | None:
    if value and len(value) <= _MAX_MAJOR_LENGTH and value.isascii() and value.isdigit():
        return value
    return None


class _Match(Protocol):
    """A native extractor's browser or OS result."""

    family: str
    major: str | None
    minor: str | None
    patch: str | None


class _DeviceMatch(Protocol):
    family: str
    brand: str | None
    model: str | None


def _family_and_major(part: _Match | None) -> tuple[str, str | None]:
    if part is None or not is_publishable_family(part.family):
        return OTHER, None
    return part.family, _major(part.major)


class _ParsedUserAgent(UserAgent):
    """``user_agents.UserAgent`` from a native result: its device rules without its slow parse."""

    def __init__(
        self, ua: str, browser: _Match | None, system: _Match | None, device: _DeviceMatch | None
    ) -> None:  # no super().__init__(): it would parse again
        self.ua_string = ua
        self.browser = Browser(browser.family if browser else OTHER, (), "")  # its rules never read the version
        self.os = (
            parse_operating_system(system.family, system.major, system.minor, system.patch)
            if system
            else parse_operating_system(OTHER)
        )
        self.device = Device(device.family, device.brand, device.model) if device else Device(OTHER, None, None)


@cache
def _shared_resolver() -> Resolver:
    """One per process: building it compiles every ua-parser regex (~0.2 s)."""
    return Resolver(_MATCHERS)


# ua-parser only knows crawlers it has rules for; feed readers, fetchers and HTTP libraries say what
# they are in words (or leave a contact URL, which no browser does). Seen unflagged in a real log:
# UniversalFeedParser, Tiny Tiny RSS, Feedfetcher-Google, Chef Client, FlipboardProxy.
_AUTOMATION = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|feed|fetch|\brss\b|https?://|\+http|www\.|proxy|client/|"
    r"curl/|wget/|python|java/|go-http|okhttp|libwww|httpclient|scrapy|headless|monitor|check",
    re.IGNORECASE,
)
# Case-insensitive matching folds case at every position it tries; an ASCII user agent (nearly all)
# is lower-cased once instead and searched with the same, all lower-case, words.
_AUTOMATION_LOWER = re.compile(_AUTOMATION.pattern)


def _automated(ua: str) -> bool:
    if ua.isascii():
        return _AUTOMATION_LOWER.search(ua.lower()) is not None
    return _AUTOMATION.search(ua) is not None


def _device_class(agent: _ParsedUserAgent, automated: bool) -> str:
    if agent.is_bot or automated:
        return "bot"
    if agent.is_tablet:
        return "tablet"
    if agent.is_mobile:
        return "mobile"
    if agent.is_pc:
        return "desktop"
    return "other"


class UAGeneralizer:
    """Callable ``UA string -> UAInfo`` with a bounded LRU cache on the string (UAs repeat a lot)."""

    def __init__(self, cache_size: int = 20000) -> None:
        if cache_size < 0:
            raise ValueError("cache_size must be >= 0")
        self._resolver = _shared_resolver()
        self._cached = lru_cache(maxsize=cache_size)(self._generalize)

    def __call__(self, ua: str | None) -> UAInfo:
        if not ua:
            return UNKNOWN
        return self._cached(ua[:_MAX_UA_LENGTH])

    def _generalize(self, ua: str) -> UAInfo:
        if not ua.isascii():
            # lone surrogates (undecodable log bytes) cannot cross into the Rust resolver
            ua = ua.encode("utf-8", "replace").decode("utf-8")
        # The extractors directly: ua-parser's result objects around them cost as much as the matching.
        browser = self._resolver.ua.extract(ua)
        system = self._resolver.os.extract(ua)
        agent = _ParsedUserAgent(ua, browser, system, self._resolver.de.extract(ua))
        browser_family, browser_major = _family_and_major(browser)
        os_family, os_major = _family_and_major(system)
        device = _device_class(agent, _automated(ua))
        return UAInfo(browser_family, browser_major, os_family, os_major, device, device == "bot")
