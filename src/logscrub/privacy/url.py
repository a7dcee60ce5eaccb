"""Request target -> path template and allowlisted query parameters.

Ids, emails, tokens, hashes and addresses in a path identify people or
their sessions, so such segments are replaced by placeholders
(``/users/{id}``). Segments are classified on their percent-decoded form
(``jdoe%40example.com`` is an email) but published as logged when kept.

A segment holding any unprintable character (controls such as CR, LF,
NUL and ESC, or invisible and bidi controls such as U+202E, raw or
percent-encoded) becomes ``{unprintable}``, so none reaches the analytics.

Kept on purpose: plain words, file names (``app.css``), short numbers mixed
with letters (``v2``, ``dashboard3``), versions (``1.2.3``), dates (``2024``,
``2024-05-31``) and slugs of words (``day-4-data-sources.html``): they
describe content, not visitors. Other all-digit segments are ids (so
``/2024/05/31`` gives ``/2024/{id}/{id}``), and so is anything with a run of
3 or more digits (``user12345``, ``+1-555-0100``); tokens are told from slugs
by how often letters, digits and case alternate.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from urllib.parse import parse_qsl, unquote

MAX_SEGMENT_LENGTH = 64
MORE = "{more}"
UNPRINTABLE = "{unprintable}"

_CACHE_SIZE = 50_000
_MAX_CACHED_TARGET = 2048  # longer targets are rare and would bloat the cache: computed each time
_DECODE_ROUNDS = 3  # catches double-encoded emails (%2540)

_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_AUTHORITY_END = re.compile(r"[/?#\\]")
_DIGITS = re.compile(r"[0-9]+")
_SMALL_NUMBER = re.compile(r"[0-9]{1,3}")
_DATE = re.compile(r"(?:19|20)\d\d(?:-\d\d(?:-\d\d)?)?")
_VERSION = re.compile(r"v?\d{1,4}(?:\.\d{1,4}){1,2}")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_IP_CANDIDATE = re.compile(r"\[?[0-9A-Fa-f:.]+(?:%[\w.-]+)?\]?")
_HEX = re.compile(r"[0-9A-Fa-f]{16,}")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-+/=.~]{16,}")
_DIGIT_RUN = re.compile(r"[0-9]{3,}")
_YEAR = re.compile(r"(?:19|20)\d\d")
_DIGIT = re.compile(r"[0-9]")
# Each token character as its class: digit, lower, upper or separator (_TOKEN_CHARS has no others).
_CLASSES = bytes.maketrans(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-+/=.~",
    b"d" * 10 + b"l" * 26 + b"u" * 26 + b"s" * 7,
)
_CHANGES = (b"dl", b"du", b"ld", b"lu", b"ud", b"ul")  # a separator between words is not a change


def _decode(text: str) -> str:
    if "%" not in text:
        return text
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(text, errors="replace")
        if decoded == text:
            break
        text = decoded
    return text


def _is_ip(text: str) -> bool:
    if not ((":" in text or "." in text) and _IP_CANDIDATE.fullmatch(text)):
        return False
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _is_token(text: str) -> bool:
    """Random-looking: many letter/digit and case changes, unlike slugs (``day-4-data-sources``)."""
    if text.startswith("eyJ") and "." in text:  # JWT: base64 of '{"'
        return True
    if not _TOKEN_CHARS.fullmatch(text):
        return False
    # Counted on the classes (bytes.count, no regex): this runs for every id-like segment.
    classes = text.encode("ascii").translate(_CLASSES)
    if b"s" not in classes and (  # AKIAIOSFODNN7EXAMPLE: one case, digits among letters, no separators
        (b"l" not in classes and b"d" in classes) or (b"u" not in classes and classes.count(b"d") >= 3)
    ):
        return True
    changes = sum(map(classes.count, _CHANGES))  # a pair never overlaps itself: count finds them all
    return changes >= max(4, len(text) // 5)


def classify_segment(text: str) -> str | None:
    """The placeholder for a decoded path segment or query value that looks personal, else None."""
    if text.startswith("~"):
        return "~{user}"
    if len(text) > MAX_SEGMENT_LENGTH:
        return "{long}"
    if text.isdigit() and text.isascii():  # the usual id, decided without the regexes below
        return None if len(text) == 4 and text[:2] in ("19", "20") else "{id}"
    if not text.isprintable():
        # Control, format and bidi characters (CR LF, NUL, ESC, U+202E): log injection and
        # terminal escapes aimed at whoever reads the analytics, never page names.
        return UNPRINTABLE
    if "@" in text:
        return "{email}"
    if text in (".", "..") or _DATE.fullmatch(text) or _VERSION.fullmatch(text):
        return None
    if _DIGITS.fullmatch(text):
        return "{id}"
    if _UUID.fullmatch(text):
        return "{uuid}"
    if _is_ip(text):
        return "{ip}"
    if _HEX.fullmatch(text) and _DIGIT.search(text):
        return "{hash}"
    if _is_token(text):
        return "{token}"
    if any(not _YEAR.fullmatch(run) for run in _DIGIT_RUN.findall(text)):
        return "{id}"  # user12345, order-7731, +1-555-0100; not jquery-3.6.0.min.js or puppetconf-2012
    return None


class _Rule:
    """A site's declaration of where free-form personal values sit: ``/users/*/profile``."""

    def __init__(self, rule: str) -> None:
        parts = [part for part in rule.split("/") if part]
        if not rule.startswith("/") or not any("*" in part for part in parts):
            raise ValueError(f"path rule {rule!r} must start with '/' and have a '*' segment")
        self._parts = [
            (
                re.compile(".*".join(map(re.escape, part.split("*"))), re.DOTALL),
                part.replace("*", "{param}") if "*" in part else None,
            )
            for part in parts
        ]
        self.first = parts[0] if "*" not in parts[0] else None  # a literal first segment, if any
        self.first_pattern = self._parts[0][0]

    def params(self, segments: Sequence[str]) -> dict[int, str]:
        """Positions to template if the rule matches a prefix of the (decoded) ``segments``."""
        if len(segments) < len(self._parts):
            return {}
        found = {}
        for index, ((pattern, template), segment) in enumerate(zip(self._parts, segments)):
            if not pattern.fullmatch(segment):
                return {}
            if template is not None:
                found[index] = template
        return found


def _split_target(target: str) -> tuple[str, str] | None:
    """(path, query) of an origin- or absolute-form target; never the scheme, userinfo or host."""
    if target.startswith("/"):
        rest = target
    elif match := _ABSOLUTE.match(target):
        authority_end = _AUTHORITY_END.search(target, match.end())
        rest = target[authority_end.start():] if authority_end else ""
    else:
        return None
    rest = rest.split("#", 1)[0]
    path, _, query = rest.partition("?")
    return path, query


class PathGeneralizer:
    """Callable ``target -> (path template, allowed query params)``, cached (paths repeat a lot)."""

    def __init__(
        self,
        rules: Sequence[str] = (),
        query_allow: Iterable[str] = (),
        max_segments: int = 12,
        max_length: int = 256,
    ) -> None:
        if max_segments < 1:
            raise ValueError("max_segments must be >= 1")
        if max_length < len("/" + MORE):
            raise ValueError(f"max_length must be >= {len('/' + MORE)}")
        parsed = [_Rule(rule) for rule in rules]
        # Most paths start with a segment no rule names: only rules that could match are tried (in order).
        self._rules_any_first = tuple(rule for rule in parsed if rule.first is None)
        self._any_first = (
            re.compile("|".join(rule.first_pattern.pattern for rule in self._rules_any_first), re.DOTALL)
            if self._rules_any_first
            else None
        )
        self._rules_by_first = {
            rule.first: tuple(r for r in parsed if r.first in (None, rule.first)) for rule in parsed if rule.first
        }
        self._kept: dict[str, str] = {}  # raw segment -> decoded, for segments published as logged
        self._query_allow = frozenset(query_allow)
        self._max_segments = max_segments
        self._max_length = max_length
        self._cached = lru_cache(maxsize=_CACHE_SIZE)(self._generalize)

    def __call__(self, target: str | None) -> tuple[str | None, dict[str, str] | None]:
        if not target:
            return None, None
        path, params = self._cached(target) if len(target) <= _MAX_CACHED_TARGET else self._generalize(target)
        return path, (dict(params) if params is not None else None)  # callers must not mutate the cache

    def _generalize(self, target: str) -> tuple[str | None, dict[str, str] | None]:
        if target == "*":
            return "*", None
        split = _split_target(target)
        if split is None:
            return None, None
        path, query = split
        return self._template(path), self._params(query)

    def _template(self, path: str) -> str:
        raw = [kept for segment in path.split("/") if (kept := segment.split(";", 1)[0])]
        folded = len(raw) > self._max_segments
        raw = raw[: self._max_segments]
        # Words repeat across paths that ids make unique, so segments kept as logged are cached.
        kept = self._kept
        decoded: list[str] = []
        out: list[str] = []
        for segment in raw:
            text = kept.get(segment)
            if text is None:
                text = _decode(segment)
                placeholder = classify_segment(text)
                if placeholder is None:
                    if len(kept) >= _CACHE_SIZE:
                        kept.clear()
                    kept[segment] = text
                else:
                    segment = placeholder
            decoded.append(text)
            out.append(segment)
        if decoded:
            rules = self._rules_by_first.get(decoded[0])
            if rules is None and self._any_first is not None and self._any_first.fullmatch(decoded[0]):
                rules = self._rules_any_first
            for rule in rules or ():
                for index, template in rule.params(decoded).items():
                    out[index] = template
        trailing_slash = path.endswith("/")
        while True:
            if folded:
                template = "/" + "/".join([*out, MORE])
            else:
                template = "/" + "/".join(out) + ("/" if trailing_slash and out else "")
            if len(template) <= self._max_length:
                return template
            out.pop()  # terminates: "/{more}" always fits
            folded = True

    def _params(self, query: str) -> dict[str, str] | None:
        if not query or not self._query_allow:
            return None
        params: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key in self._query_allow and key not in params:
                params[key] = _query_value(value)
        return params or None


def _query_value(value: str) -> str:
    """An allowlisted key is the site saying its values are not personal: small numbers stay
    (``page=2``), but anything that looks like an id, email or token is still templated."""
    if _SMALL_NUMBER.fullmatch(value):
        return value
    return (classify_segment(_decode(value)) or value)[:MAX_SEGMENT_LENGTH]
