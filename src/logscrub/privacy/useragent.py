"""User agent -> browser/OS family and major, device class, bot flag.

Parsing goes through ua-parser's native (Rust) resolver, ``ua_parser.regex.Resolver``,
called through its documented ``Resolver`` interface: the pure-Python parser behind
``user_agents.parse`` is ~40x slower and would bound a worker's throughput. The device
class comes from rules of our own, modeled on user-agents 2.2's (``is_bot``,
``is_tablet``, ``is_mobile``, ``is_pc``), applied to that native result; a test holds
them to ``user_agents.parse`` over a corpus of real user agents.

Some ua-parser rules copy free text from the UA into the family (generic
``...bot`` or ``<app>/1.0 CFNetwork`` rules), and a client can put anything
there, its author's user name included (``jdoe-bot``). No shape check can
tell a user name from a product name, so a family is published only if it is
a name ua-parser's rules spell out (a literal replacement, or one of the
finitely many strings the captured group can match, like ``Googlebot`` in
``(...|Googlebot|...)``) or a well-known crawler that ua-parser only finds
through its generic rules. Anything else is "Other" (still a bot if it is
one). The finite strings come from a small parser of our own for the regex
syntax the rules use (see ``_RegexSubset``).
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from functools import cache, lru_cache

from ua_parser import OS, Domain, UserAgent, load_lazy_builtins
from ua_parser.regex import Resolver  # imports ua_parser_rs: fail loudly rather than parse slowly

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


# --- Which strings can a rule's first group capture? ------------------------------------------------


class UnsupportedRegex(ValueError):
    """The pattern uses syntax outside the subset ``_RegexSubset`` reads."""


@dataclass(frozen=True, slots=True)
class _Chars:
    """One character out of ``chars``; ``None``: any of too many to list (``.``, ``\\w``, ``[^/]``)."""

    chars: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class _Alternation:
    branches: tuple[tuple[_Node, ...], ...]


@dataclass(frozen=True, slots=True)
class _Repeat:
    body: _Node
    low: int
    high: int | None  # None: unbounded


_Node = _Chars | _Alternation | _Repeat
_ZERO_WIDTH = _Alternation(((),))  # anchors and word boundaries: match the empty string
_ANY = _Chars(None)
_DIGITS = frozenset("0123456789")
_OPEN_ENDED_ESCAPES = frozenset("DwWsS")  # classes too large to list
_ZERO_WIDTH_ESCAPES = frozenset("bBAZ")
_QUANTIFIER = re.compile(r"\{(?!\})(\d*)(,?)(\d*)\}")  # "{}" is no quantifier


class _RegexSubset:
    """Parser for the regex syntax of ua-parser's rules, into ``_Node`` trees.

    Reads literals, escapes, ``.``, anchors, character classes, capturing and
    ``(?:...)`` groups, alternation and the quantifiers ``? * + {m,n}`` (greedy or
    lazy), as Python's ``re`` reads them. Anything else raises ``UnsupportedRegex``.
    """

    def __init__(self, pattern: str) -> None:
        self._text = pattern
        self._at = 0
        self._groups = 0
        self.group_one: _Node | None = None
        self.group_one_source: str | None = None  # the group's own pattern, for tests

    def parse(self) -> _Node:
        node = self._alternation()
        if self._at != len(self._text):
            raise UnsupportedRegex(f"unbalanced ')' at {self._at}")
        return node

    def _peek(self, ahead: int = 0) -> str:
        at = self._at + ahead
        return self._text[at] if at < len(self._text) else ""

    def _alternation(self) -> _Alternation:
        branches = [self._sequence()]
        while self._peek() == "|":
            self._at += 1
            branches.append(self._sequence())
        return _Alternation(tuple(branches))

    def _sequence(self) -> tuple[_Node, ...]:
        items: list[_Node] = []
        while self._peek() not in ("", "|", ")"):
            atom, repeatable = self._atom()
            items.append(self._quantified(atom) if repeatable else atom)
        return tuple(items)

    def _atom(self) -> tuple[_Node, bool]:
        char = self._peek()
        self._at += 1
        if char == "(":
            return self._group(), True
        if char == "[":
            return self._class(), True
        if char == ".":
            return _ANY, True
        if char in "^$":
            return _ZERO_WIDTH, False
        if char == "\\":
            escaped = self._escape()
            if escaped is None:
                return _ZERO_WIDTH, False
            return escaped, True
        if char in "*+?{":
            raise UnsupportedRegex(f"{char!r} at {self._at - 1}")
        return _Chars(frozenset(char)), True

    def _group(self) -> _Node:
        if self._peek() == "?":
            if self._peek(1) != ":":
                raise UnsupportedRegex(f"group extension at {self._at}")
            self._at += 2
            body = self._alternation()
            self._close()
            return body
        self._groups += 1
        number, start = self._groups, self._at
        body = self._alternation()
        if number == 1:
            self.group_one, self.group_one_source = body, self._text[start:self._at]
        self._close()
        return body

    def _close(self) -> None:
        if self._peek() != ")":
            raise UnsupportedRegex("missing ')'")
        self._at += 1

    def _escape(self) -> _Chars | None:
        """The escape after a backslash; ``None`` for a zero-width one (``\\b``)."""
        char = self._peek()
        self._at += 1
        if char in _ZERO_WIDTH_ESCAPES:
            return None
        return self._class_escape(char)

    def _class_escape(self, char: str) -> _Chars:
        if char == "d":
            return _Chars(_DIGITS)
        if char in _OPEN_ENDED_ESCAPES:
            return _ANY
        if char and (not char.isascii() or not char.isalnum()):
            return _Chars(frozenset(char))
        raise UnsupportedRegex(f"escape \\{char} at {self._at - 1}")

    def _class(self) -> _Chars:
        negated = self._peek() == "^"
        if negated:
            self._at += 1
        chars: set[str] = set()
        listed = True
        first = True
        while True:
            char = self._peek()
            if not char:
                raise UnsupportedRegex("missing ']'")
            if char == "]" and not first:
                self._at += 1
                break
            first = False
            low = self._class_item()
            if self._peek() == "-" and self._peek(1) not in ("]", ""):
                self._at += 1
                high = self._class_item()
                if low.chars is None or high.chars is None or len(low.chars) != 1 or len(high.chars) != 1:
                    raise UnsupportedRegex(f"bad range at {self._at}")
                (start,), (end,) = low.chars, high.chars
                if start > end:
                    raise UnsupportedRegex(f"bad range at {self._at}")
                chars.update(map(chr, range(ord(start), ord(end) + 1)))
            elif low.chars is None:
                listed = False
            else:
                chars |= low.chars
        return _Chars(frozenset(chars)) if listed and not negated else _ANY

    def _class_item(self) -> _Chars:
        char = self._peek()
        self._at += 1
        if char == "\\":
            escaped = self._peek()
            self._at += 1
            return self._class_escape(escaped)
        return _Chars(frozenset(char))

    def _quantified(self, atom: _Node) -> _Node:
        char = self._peek()
        if char == "?":
            low, high, self._at = 0, 1, self._at + 1
        elif char == "*":
            low, high, self._at = 0, None, self._at + 1
        elif char == "+":
            low, high, self._at = 1, None, self._at + 1
        elif char == "{" and (bounds := _QUANTIFIER.match(self._text, self._at)):
            low_text, comma, high_text = bounds.groups()
            low = int(low_text) if low_text else 0
            high = (int(high_text) if high_text else None) if comma else low
            if high is not None and high < low:
                raise UnsupportedRegex(f"bad repeat at {self._at}")
            self._at = bounds.end()
        else:
            return atom
        if self._peek() == "?":  # lazy: matches the same strings
            self._at += 1
        if self._peek() in ("*", "+", "?", "{"):
            raise UnsupportedRegex(f"repeated quantifier at {self._at}")
        return _Repeat(atom, low, high)


def _finite(node: _Node) -> set[str] | None:
    """Strings ``node`` matches, if finitely many; free-text branches of an alternation are left out."""
    if isinstance(node, _Chars):
        return set(node.chars) if node.chars is not None else None
    if isinstance(node, _Repeat):
        if node.high is None or node.high > _MAX_REPEAT or (inner := _finite(node.body)) is None:
            return None
        found, current = set(), {""}
        for count in range(node.high + 1):
            if count >= node.low:
                found |= current
            current = {head + tail for head in current for tail in inner}
        return found if len(found) <= _MAX_EXPANSION else None
    if len(node.branches) == 1:
        return _finite_sequence(node.branches[0])
    found = [strings for branch in node.branches if (strings := _finite_sequence(branch)) is not None]
    return set().union(*found) if found else None


def _finite_sequence(items: tuple[_Node, ...]) -> set[str] | None:
    strings = {""}
    for item in items:
        options = _finite(item)
        if options is None:
            return None
        strings = {head + tail for head in strings for tail in options}
        if len(strings) > _MAX_EXPANSION:
            return None
    return strings


def captured_by_group_one(regex: str) -> set[str] | None:
    """Every string the first capturing group of ``regex`` can capture, if finitely many.

    ``None`` when the group matches free text, when there is no such group, or
    when ``regex`` uses syntax outside the subset we read (``UnsupportedRegex``).
    """
    parser = _RegexSubset(regex)
    try:
        parser.parse()
    except UnsupportedRegex:
        return None
    return _finite(parser.group_one) if parser.group_one is not None else None


def _spelled_out(family: str, regex: str) -> set[str]:
    """Every family a rule can produce without copying free text from the UA."""
    if "$" not in family:
        return {family}
    if "$" in family.replace("$1", ""):
        return set()
    names = {family.replace("$1", text) for text in captured_by_group_one(regex) or ()}
    return names | {name.strip() for name in names}  # OS families come out stripped, browser ones as captured


_MATCHERS = load_lazy_builtins()
# ``regex`` is documented on ua_parser.core.Matcher; ``family`` is the rule's family template, the
# public attribute (and constructor argument) of the ua_parser.lazy matchers load_lazy_builtins returns.
_PUBLISHABLE_FAMILIES = _KNOWN_CRAWLERS.union(
    *(_spelled_out(m.family, m.regex) for m in (*_MATCHERS[0], *_MATCHERS[1]))  # type: ignore[attr-defined]
)


def is_publishable_family(family: str) -> bool:
    """Only names fixed in advance: a family copied from the UA could be its author's user name."""
    return family in _PUBLISHABLE_FAMILIES


def _major(value: str | None) -> str | None:
    if value and len(value) <= _MAX_MAJOR_LENGTH and value.isascii() and value.isdigit():
        return value
    return None


def _family_and_major(part: UserAgent | OS | None) -> tuple[str, str | None]:
    if part is None or not is_publishable_family(part.family):
        return OTHER, None
    return part.family, _major(part.major)


# --- Device class: user-agents 2.2's rules, on the native result ------------------------------------

_TABLET_DEVICES = frozenset({
    "iPad", "BlackBerry Playbook", "Blackberry Playbook", "Kindle", "Kindle Fire", "Kindle Fire HD", "Galaxy Tab",
    "Xoom", "Dell Streak",
})
_MOBILE_DEVICES = frozenset({
    "iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone", "PlayStation Vita", "iOS-Device",
})
_MOBILE_BROWSERS = frozenset({
    "IE Mobile", "Opera Mobile", "Opera Mini", "Chrome Mobile", "Chrome Mobile WebView", "Chrome Mobile iOS",
})
_MOBILE_OSES = frozenset({
    "Windows Phone", "Windows Phone OS", "Symbian OS", "Bada", "Windows CE", "Windows Mobile", "Maemo",
    "Android", "Firefox OS",  # phones unless a tablet rule matched first
})
_PC_OSES = frozenset({"Windows 95", "Windows 98", "Solaris"})
_MOBILE_UA_MARKERS = ("J2ME", "MIDP", "iPhone;", "Googlebot-Mobile")


def _version_string(major: str | None, minor: str | None, patch: str | None) -> str:
    """user-agents' ``os.version_string``: the parts present, joined by dots."""
    return ".".join(part for part in (major, minor, patch) if part is not None)


def device_class(ua: str, browser: str, os: str, os_version: str, device: str) -> str:
    """``bot|tablet|mobile|desktop|other`` from ua-parser's families, by user-agents 2.2's rules.

    ``browser``, ``os`` and ``device`` are ua-parser's families ("Other" when it
    found none), ``os_version`` the OS version as user-agents writes it
    (``_version_string``). The classes are tried in user-agents' order: bot
    (ua-parser's "Spider" device), tablet, mobile, then PC (here "desktop").
    """
    if device == "Spider":
        return "bot"
    if (
        device in _TABLET_DEVICES
        or os == "Android" and "Mobile Safari" not in ua and browser != "Firefox Mobile"
        or os == "Windows" and os_version.startswith("RT")
        or os == "Firefox OS" and "Mobile" not in browser
    ):
        return "tablet"
    if (
        device in _MOBILE_DEVICES
        or browser in _MOBILE_BROWSERS
        or os in _MOBILE_OSES
        or os == "BlackBerry OS" and device != "Blackberry Playbook"
        or any(marker in ua for marker in _MOBILE_UA_MARKERS)
        or "NokiaBrowser" in ua and "Mobile" in ua
    ):
        return "mobile"
    if (
        "Windows NT" in ua
        or os in _PC_OSES
        or os == "Windows" and os_version == "ME"
        or os == "Mac OS X" and "Silk" not in ua
    ):
        return "desktop"
    if "Maemo" in ua:
        return "other"
    if "Chrome OS" in os or "Linux" in ua and "X11" in ua:
        return "desktop"
    return "other"


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
# is lower-cased once instead and searched with the same, all lower-case, words. There ``\brss\b`` is
# spelled ``r(?<!\wr)ss\b`` (the same matches): with every alternative starting with a literal, ``re``
# skips ahead to the positions holding one of their first letters, ~3x faster on real user agents.
_AUTOMATION_LOWER = re.compile(_AUTOMATION.pattern.replace(r"\brss\b", r"r(?<!\wr)ss\b"))


def _automated(ua: str) -> bool:
    if ua.isascii():
        return _AUTOMATION_LOWER.search(ua.lower()) is not None
    return _AUTOMATION.search(ua) is not None


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
        result = self._resolver(ua, Domain.ALL)
        browser, system, hardware = result.user_agent, result.os, result.device
        os_family = system.family if system else OTHER
        device = device_class(
            ua,
            browser.family if browser else OTHER,
            os_family,
            _version_string(system.major, system.minor, system.patch) if system and os_family == "Windows" else "",
            hardware.family if hardware else OTHER,
        )
        if device != "bot" and _automated(ua):
            device = "bot"
        browser_family, browser_major = _family_and_major(browser)
        os_family, os_major = _family_and_major(system)
        return UAInfo(browser_family, browser_major, os_family, os_major, device, device == "bot")
