"""Request target -> path template and allowlisted query parameters.

Ids, emails, tokens, hashes, phones, dates, MAC addresses, coordinates and
IP addresses in a path identify people or their sessions, so such segments
become placeholders (``/users/{id}``). Segments are classified after
decoding (percent-encoding, repeatedly; fullwidth forms by NFKC), after an
encoded ``/`` splits them and ``;`` (raw or encoded) cuts matrix params, and
after dot segments and repeated slashes are resolved. A kept segment is
published as logged, or decoded when decoding split it. Unprintable
characters give ``{unprintable}``. ``url.path_rules`` match at any depth,
whatever the case: ``/users/*`` templates the segment after any ``users``.

Kept on purpose: words, slugs, file names, versions, short numbers mixed
with letters (``v2``, ``dashboard3``), years and year-months: they describe
content. A full date (any order, a two-digit year too) is a possible birth
date. Where a personal value has a version's shape, the value wins: 3.3.4
digits are a phone, a day and month before a two-digit year a date. A
latitude and longitude split over two segments are templated as a pair.
Tokens are told from words by how often letters, digits and case alternate
and by letter pairs that words of European languages seldom hold.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from urllib.parse import parse_qsl, unquote

from logscrub.privacy.referrer import registrable_domain

MAX_SEGMENT_LENGTH = 64
MORE = "{more}"
UNPRINTABLE = "{unprintable}"

_CACHE_SIZE = 50_000
_MAX_CACHED_TARGET = 2048  # longer targets are rare and would bloat the cache: computed each time
_DECODE_ROUNDS = 4  # catches double-encoded emails (%2540), and fullwidth percent signs that NFKC reveals

_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_AUTHORITY_END = re.compile(r"[/?#\\]")
_SEPARATORS = re.compile(r"[/\\]")  # decoded; servers on Windows read '\' as '/'
_DIGITS = re.compile(r"[0-9]+")
_SMALL_NUMBER = re.compile(r"[0-9]{1,3}")
_YEAR_MONTH = re.compile(r"(?:19|20)\d\d(?:[-._](?:0?[1-9]|1[0-2]))?|(?:0?[1-9]|1[0-2])[-._](?:19|20)\d\d")
_VERSION = re.compile(r"v?\d{1,4}(?:\.\d{1,4}){1,2}")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_IP_CANDIDATE = re.compile(r"\[?[0-9A-Fa-f:.]+(?:%[\w.-]+)?\]?")
_HEX = re.compile(r"[0-9A-Fa-f]{16,}")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-+/=.~]{16,}")
_YEAR = re.compile(r"(?:19|20)\d\d")
_YEAR_IN = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")

# Dates with a day: in one segment, in any common order and separator, month as a number or an English
# name. A year or a year-month alone is kept: archives are organized that way, and either is shared
# by far more people than a day is.
_Y, _M, _D = r"(?:19|20)\d\d", r"(?:0?[1-9]|1[0-2])", r"(?:0?[1-9]|[12]\d|3[01])"
_MON = (r"(?<![a-z])(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
        r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])")
_FULL_DATE = re.compile(
    rf"(?<!\d)(?:{_Y}([-._ ]){_M}\1{_D}|{_D}([-._ ]){_M}\2{_Y}|{_M}([-._ ]){_D}\3{_Y}"
    rf"|{_D}[-._ ]?{_MON}[-._ ,]*{_Y}|{_MON}[-._ ]?{_D}(?:st|nd|rd|th)?[-._ ,]*{_Y}|{_Y}[-._ ]?{_MON}[-._ ]?{_D})(?!\d)",
    re.IGNORECASE,
)
# With a two-digit year, as birth dates are often written: 14.3.87, 31-05-87, 3-14-87 (the whole
# segment), 14mar87, mar-14-87 (ending the segment or before a non-alphanumeric: hex ids hold
# 9feb03 by chance, mostly followed by more of it). Month first with dots only when zero-padded
# (03.14.87): versions are dotted and unpadded (4.17.21). Day first they cannot be told apart:
# 3.11.10 reads as a date, the safe side; v3.11.10 and versions whose patch has one digit (3.6.0)
# are versions.
_SHORT_DATE = re.compile(
    rf"{_D}([-._ ]){_M}\1\d\d|{_M}([-_ ]){_D}\2\d\d|(?:0[1-9]|1[0-2])\.(?:0[1-9]|[12]\d|3[01])\.\d\d"
)
_SHORT_NAMED_DATE = re.compile(
    rf"(?<!\d)(?:{_D}[-._ ]?{_MON}[-._ ,]*\d\d|{_MON}[-._ ]?{_D}(?:st|nd|rd|th)?[-._ ,]+\d\d)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
# Phone numbers as people write them: +33 6 12 34 56 78, 06.12.34.56.78, (555) 123-4567, +1-555-0100.
_PHONE = re.compile(r"(?:tel:)?\+?\(?\d{1,4}\)?(?:[ .\-+_]{0,3}\(?\d{1,4}\)?){2,}|(?:tel:)?\+\d{7,15}", re.IGNORECASE)
_PHONE_CHARS = frozenset("0123456789 .-+_()")
_PHONE_SEPARATORS = frozenset(" .-+_")
_PHONE_IN = re.compile(r"(?<![\d.])\+?\(?\d{1,4}\)?(?:[ .\-+_]{1,3}\(?\d{1,4}\)?){3,}(?![\d.])")
# North-American numbers written with dots (415.555.0172) have a version's shape; no version is
# numbered 3.3.4 digits, so that shape is a phone's.
_DOTTED_PHONE = re.compile(r"\d{3}\.\d{3}\.\d{4}")
_MAC = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}(?:(?:\1[0-9A-Fa-f]{2}){2})?"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![0-9A-Fa-f])"
)
_MAC_BARE = re.compile(r"[0-9A-Fa-f]{12}")
# Latitude,longitude as maps and apps put them in paths: 48.8566,2.3522; @48.85,2.35,15z; 48.85;2.35.
_COORDINATES = re.compile(r"(?<![\d.])([-+]?\d{1,2}\.\d{2,})\s*[,;\s]\s*([-+]?\d{1,3}\.\d{2,})(?![\d.])")
# The same in segments of their own, either order: /weather/48.8566/2.3522, /lat/48.857/lng/2.352.
# Decimals with 3 places or more (about 100 m) at most one segment apart, both within 180 and one
# within 90. One alone is kept: a latitude places no one, and DOI prefixes (10.1038) have its shape.
_DEGREES = re.compile(r"[-+]?\d{1,3}\.\d{3,}")
_DEGREES_APART = 2  # the second of a pair at most this many segments after the first
# What '@' means in asset paths: a package version (vue@3.4.15, on CDNs) or a pixel density (logo@2x.png).
_AT_NOT_EMAIL = re.compile(r"[A-Za-z]@(?:\d+\.\d+(?:\.\d+)*(?:[-+][\w.]+)?|[1-4]x(?:\.[A-Za-z0-9]{1,5})?)$")
# Emails written to dodge scrapers: name(at)example.com, name [at] example dot com, name-at-example.com,
# name.at.example.com, name+at+example.com, name(a)example.de. A bracketed "at" is one whatever
# follows; "at" between separators and a bracketed "a" only before a registrable domain
# (look-at-this.html, www.example.at and Foo_(a) are not emails).
_AT_BRACKETED = re.compile(r"[(\[{<]\s*at\s*[)\]}>]", re.IGNORECASE)
_AT_WORD = re.compile(
    r"(?<=[A-Za-z0-9])(?:(?:\s+|\s*[-_.+]\s*)at(?:\s+|\s*[-_.+]\s*)|\s*[(\[{<]\s*a\s*[)\]}>]\s*)(?=[A-Za-z0-9])",
    re.IGNORECASE,
)
_DOT_WORD = re.compile(r"\s*[(\[{<]\s*dot\s*[)\]}>]\s*|(?:\s+|\s*[-_]\s*)dot(?:\s+|\s*[-_]\s*)", re.IGNORECASE)
_DOMAIN_START = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")
# Credentials whose vendor prefix says what they are, even where the random part would pass for a word.
_SECRET = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?:sk|pk|rk)_(?:live|test)_\w{8,}|whsec_\w{8,}|[a-z]{2,8}_(?:live|test|prod|sandbox)_\w{8,}"  # Stripe & co
    r"|gh[pousr]_\w{16,}|github_pat_\w{16,}|glpat-[\w-]{16,}"  # GitHub, GitLab
    r"|xox[abposr]-[\w-]{8,}|xapp-[\w-]{8,}"  # Slack
    r"|(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{12,}"  # AWS key ids
    r"|AIza[\w-]{30,}|ya29\.[\w.-]{16,}"  # Google
    r"|sk-(?:proj-|ant-|svcacct-)?[\w-]{16,}|SG\.[\w-]{16,}"  # OpenAI, Anthropic, SendGrid
    r"|shp(?:at|ss|ca|pa)_[0-9a-fA-F]{16,}|npm_\w{16,}|pypi-[\w-]{16,}|hf_\w{16,}|dop_v1_[0-9a-f]{16,}"
    r"|glsa_\w{16,}|sq0(?:atp|csp)-[\w-]{16,}"
    r")"
)
_SECRET_HINTS = frozenset("_-.")
_CHUNK = re.compile(r"[A-Za-z0-9]{8,}")
_SHORT_ID = re.compile(r"[A-Za-z0-9]*[-_][A-Za-z0-9_-]*")
_PIECES = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")  # words of a camelCase chunk, acronyms, numbers
_VOWELS = frozenset("aeiouy")
_CONSONANT_RUN = re.compile(r"[bcdfghjklmnpqrstvwxz]{4,}")
# Letter pairs no European language uses much (seldom in any of the English, German, French, Spanish,
# Italian, Dutch, Polish and Swedish word lists): each row is a first letter and its rare second letters.
# Pairs common in web words (html, http, php, pdf, png, sql, admin, object, help, next, linux, player) are left out.
_RARE_ROWS = (
    "aqx bcdfghkmnpqtvwxz cbgmpqsvwx dbcfghjkpqtvwx eq fbcghjkmnpqvwxyz gbcfjkpqvwxyz hbcdfghjkqvxz ihy "
    "jbfghijlqrtvwxyz kbcdfghjmpqwxyz lhqwxz mcfghjkqvwxz njmpqwx oqx pbcjkqvwxyz qabcdefghijklmnopqrstvwxyz "
    "rjqx sx tdfqx uqy vbcdfghjkmpqtuwxyz wbdfghjklmqrtvwxz xbcdfgjknqrvwxz yfhquvx zbfhjlpqrsvx"
)
_RARE_PAIR = re.compile("(?=(" + "|".join(f"{row[0]}[{row[1:]}]" for row in _RARE_ROWS.split()) + "))")
# Each token character as its class: digit, lower, upper or separator (_TOKEN_CHARS has no others).
_CLASSES = bytes.maketrans(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-+/=.~",
    b"d" * 10 + b"l" * 26 + b"u" * 26 + b"s" * 7,
)
_CHANGES = (b"dl", b"du", b"ld", b"lu", b"ud", b"ul")  # a separator between words is not a change


def _decode(text: str) -> str:
    """Percent-decoded until stable (double encoding), fullwidth and other compatibility forms folded."""
    if "%" not in text and text.isascii():
        return text
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(text, errors="replace") if "%" in text else text
        if not decoded.isascii():
            if not decoded.isprintable():  # NFKC would fold some (a no-break space) into printable ones
                return decoded
            decoded = unicodedata.normalize("NFKC", decoded)
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
    """Random-looking: many letter/digit and case changes, unlike slugs (``day-4-data-sources``).

    Where words could explain the case changes (``GettingStartedWithKafka``, ``MellonYarns31``),
    the camelCase pieces decide instead (see ``_is_random_chunk``).
    """
    if text.startswith("eyJ") and "." in text:  # JWT: base64 of '{"'
        return True
    if not _TOKEN_CHARS.fullmatch(text):
        return False
    # Counted on the classes (bytes.count, no regex): this runs for every id-like segment.
    classes = text.encode("ascii").translate(_CLASSES)
    if b"s" not in classes:
        if b"l" not in classes:  # AKIAIOSFODNN7EXAMPLE: one case, digits among letters
            return b"d" in classes
        # Three digit groups or more: no camelCase phrase has them (and this is cheaper than the pieces).
        groups = classes.count(b"ld") + classes.count(b"ud") + classes.startswith(b"d")
        if groups >= 3 or (b"u" not in classes and classes.count(b"d") >= 3):
            return True
        return _is_random_chunk(text)
    if b"d" not in classes:  # letters only: told from words (FrequentlyAskedQuestions) by their pieces
        return any(_is_random_chunk(chunk) for chunk in _CHUNK.findall(text))
    changes = sum(map(classes.count, _CHANGES))  # a pair never overlaps itself: count finds them all
    return changes >= max(4, len(text) // 5)


def _rare_pairs(word: str) -> int:
    """Distinct rare letter pairs in a lowercase word: a repeated pattern (``abcabcabc``) counts once."""
    return len(set(_RARE_PAIR.findall(word)))


def _is_random_chunk(chunk: str) -> bool:
    """An unseparated run of 8+ letters and digits that no word, name or version looks like.

    Mixed case or digits (``Zx8kQp2mWv``, ``aB3dE9xQ``, lowercase base32): scored by its camelCase
    pieces. Single letters, vowel-less pieces, rare letter pairs, 4+ consonants in a row, extra
    digit groups and acronyms, and more pieces than words would make all count; ``iPhone15``,
    ``Win10Pro`` and ``GettingStartedWithKafka`` score 0. One case only: 12+ letters with 3 or
    more rare pairs. Measured rates are in tests/test_url_classes.py.
    """
    lower, upper, digit = not chunk.isupper(), not chunk.islower(), not chunk.isalpha()
    if lower + upper + digit < 2:
        return chunk.isalpha() and len(chunk) >= 12 and _rare_pairs(chunk.lower()) >= 3
    pieces = _PIECES.findall(chunk)
    junk = 0.0
    digits = acronyms = 0
    for piece in pieces:
        if piece[0] <= "9":
            digits += 1
        elif len(piece) == 1:
            junk += 1
        elif piece.isupper():
            acronyms += 1
            if len(piece) > 3:
                junk += _rare_pairs(piece.lower())
        else:
            low = piece.lower()
            rare = _rare_pairs(low)
            if _VOWELS.isdisjoint(low):
                rare = max(rare, 1 if len(piece) <= 3 else 2)
            else:
                if len(piece) == 2 and piece[0] <= "Z":  # Qp, Wv: two-letter words are few
                    rare += 0.5
                rare += sum(len(run) - 3 for run in _CONSONANT_RUN.findall(low))
            junk += rare
    junk += max(0, digits - 1) + max(0, acronyms - 1) + max(0.0, len(pieces) - len(chunk) / 3.5)
    return junk >= max(2.5, len(chunk) / 4)


def _is_obfuscated_email(text: str) -> bool:
    """``name(at)example.com``, ``name [at] example [dot] com``; ``-at-``, ``.at.``, ``+at+``, `` at ``
    and ``(a)`` only before a registrable domain, since words and host names hold them too."""
    if _AT_BRACKETED.search(text):
        return True
    for match in _AT_WORD.finditer(text):
        domain = _DOMAIN_START.match(_DOT_WORD.sub(".", text[match.end():]))
        if domain and "." in domain.group() and registrable_domain(domain.group().strip(".-")):
            return True
    return False


def _template_coordinates(decoded: Sequence[str], out: list[str]) -> None:
    """``{geo}`` for both segments of a latitude and longitude split by '/': a pair locates someone."""
    degrees = [(i, abs(float(text))) for i, text in enumerate(decoded) if _DEGREES.fullmatch(text)]
    degrees = [(i, value) for i, value in degrees if value <= 180]
    for (a, x), (b, y) in zip(degrees, degrees[1:]):
        if b - a <= _DEGREES_APART and min(x, y) <= 90:
            out[a] = out[b] = "{geo}"


def _is_coordinates(text: str) -> bool:
    for match in _COORDINATES.finditer(text):
        if abs(float(match.group(1))) <= 90 and abs(float(match.group(2))) <= 180:
            return True
    return False


def _is_phone(text: str, runs: Sequence[str]) -> bool:
    """7 to 15 digits in groups as a whole segment, or 9 or more in 4+ groups inside one (``call-06-12-34-56-78``)."""
    digits = sum(map(len, runs))
    if digits < 7:
        return False
    if len(runs) < 2:  # +33612345678: international, so a number and not an id
        return digits <= 15 and text.removeprefix("tel:").startswith("+") and _PHONE.fullmatch(text) is not None
    if digits <= 15 and _PHONE_CHARS.issuperset(text.removeprefix("tel:")) and _PHONE.fullmatch(text):
        return True
    return (
        len(runs) >= 4
        and digits >= 9
        and not _PHONE_SEPARATORS.isdisjoint(text)
        and any(sum(c.isdigit() for c in m.group()) >= 9 for m in _PHONE_IN.finditer(text))
    )


def _is_date(text: str, runs: Sequence[str]) -> bool:
    """A day, month and year in one segment (``1987-03-14``, ``14.03.1987``, ``14-mar-1987``, ``14.3.87``,
    ``14mar87``): a day is shared by few enough people to be a birth date."""
    if len(runs) < 2:
        return False
    if _YEAR_IN.search(text) and _FULL_DATE.search(text):
        return True
    if len(runs) == 3 and _SHORT_DATE.fullmatch(text):
        return True
    return _SHORT_NAMED_DATE.search(text) is not None


def classify_segment(text: str) -> str | None:
    """The placeholder for a decoded path segment or query value that looks personal, else None.

    Cheap tests first, and the unique values that fill paths (ids, hashes) are decided early:
    words are cached by the caller, so their longer road is taken once.
    """
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
    if text in (".", ".."):
        return None
    runs: Sequence[str] = () if text.isalpha() else _DIGITS.findall(text)
    if runs:
        if _HEX.fullmatch(text):
            return "{hash}"
        if _UUID.fullmatch(text):
            return "{uuid}"
        if len(runs) >= 4 and "." in text and _is_coordinates(text):  # before '@': maps write /@48.85,2.35,15z
            return "{geo}"
    if "@" in text and not _AT_NOT_EMAIL.search(text):
        return "{email}"
    if "=" in text:  # key=value (jsessionid=...): the value decides
        value = text.partition("=")[2]
        if value and (placeholder := classify_segment(value)) is not None:
            return placeholder
    if runs:
        if _is_date(text, runs):
            return "{date}"
        if _YEAR_MONTH.fullmatch(text) or (_VERSION.fullmatch(text) and not _DOTTED_PHONE.fullmatch(text)):
            return None
    if (":" in text or "-" in text or "." in text) and _MAC.search(text):
        return "{mac}"
    if _is_ip(text):
        return "{ip}"
    if runs and _MAC_BARE.fullmatch(text):
        return "{mac}"
    if _is_token(text):  # no phone, date or MAC is one (separators and case do not alternate so)
        return "{token}"
    if runs and _is_phone(text, runs):
        return "{phone}"
    if not _SECRET_HINTS.isdisjoint(text) and _SECRET.search(text):
        return "{token}"
    if any(len(run) >= 3 and not _YEAR.fullmatch(run) for run in runs):
        return "{id}"  # user12345, order-7731; not jquery-3.6.0.min.js or puppetconf-2012
    if ("a" in text or "A" in text) and _is_obfuscated_email(text):  # every spelling of "at" has an 'a'
        return "{email}"
    if any(_is_random_chunk(chunk) for chunk in _CHUNK.findall(text)):
        return "{token}"
    if 8 <= len(text) <= 20 and _SHORT_ID.fullmatch(text):  # base64url ids cut by their own '-' and '_'
        joined = text.replace("-", "").replace("_", "")
        if not (joined.islower() or joined.isupper()) and _is_random_chunk(joined):  # not a slug of words
            return "{token}"
    return None


class _Rule:
    """A site's declaration of where free-form personal values sit: ``/users/*/profile``.

    Matched at any depth and whatever the case: ``/en/Users/NAME/profile`` too.
    """

    def __init__(self, rule: str) -> None:
        parts = [part for part in rule.split("/") if part]
        if not rule.startswith("/") or not any("*" in part for part in parts):
            raise ValueError(f"path rule {rule!r} must start with '/' and have a '*' segment")
        self._parts = [
            (
                re.compile(".*".join(map(re.escape, part.split("*"))), re.DOTALL | re.IGNORECASE),
                part.replace("*", "{param}") if "*" in part else None,
            )
            for part in parts
        ]
        self.first = parts[0].casefold() if "*" not in parts[0] else None  # a literal first segment, if any
        self.first_pattern = self._parts[0][0]
        self.first_prefix = parts[0].split("*", 1)[0].casefold()  # what a wildcard first segment starts with

    def params(self, segments: Sequence[str], start: int) -> dict[int, str]:
        """Positions to template if the rule matches the (decoded) ``segments`` from ``start`` on."""
        if len(segments) - start < len(self._parts):
            return {}
        found = {}
        for index, (pattern, template) in enumerate(self._parts, start):
            if not pattern.fullmatch(segments[index]):
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
        # Each segment is looked up by its case-folded text: only rules that could match there are tried
        # (in order). Rules whose first segment has a '*' are tried where their literal start matches.
        self._rules_any_first = tuple(rule for rule in parsed if rule.first is None)
        self._any_first = (
            re.compile(
                "|".join(rule.first_pattern.pattern for rule in self._rules_any_first), re.DOTALL | re.IGNORECASE
            )
            if self._rules_any_first
            else None
        )
        self._any_first_prefixes = tuple(rule.first_prefix for rule in self._rules_any_first)
        self._rules_by_first = {
            rule.first: tuple(r for r in parsed if r.first in (None, rule.first)) for rule in parsed if rule.first
        }
        # raw segment kept as one segment -> (published, decoded, whether a rule may start there)
        self._kept: dict[str, tuple[str, str, bool]] = {}
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
        # Work is bounded on hostile paths: segments past the limit are neither examined nor published.
        limit = self._max_segments * 4 + 8
        raws = path.split("/", limit)
        folded = len(raws) > limit
        if folded:
            raws.pop()
        out: list[str] = []
        decoded: list[str] = []
        starts: list[bool] = []
        dot_last = False
        kept = self._kept
        for raw in raws:
            if not raw:
                continue
            hit = kept.get(raw)
            if hit is not None:  # the usual case: a word seen before
                out.append(hit[0])
                decoded.append(hit[1])
                starts.append(hit[2])
                dot_last = False
                continue
            for published, text, start in self._pieces(raw):
                dot_last = text in (".", "..")
                if not dot_last:
                    out.append(published)
                    decoded.append(text)
                    starts.append(start)
                elif text == "..":
                    if decoded and decoded[-1] != "..":
                        out.pop()
                        decoded.pop()
                        starts.pop()
                    else:  # climbs above the root: a traversal probe, worth seeing as such
                        out.append("..")
                        decoded.append("..")
                        starts.append(False)
        _template_coordinates(decoded, out)
        if any(starts):
            self._apply_rules(decoded, out, starts)
        if len(out) > self._max_segments:
            del out[self._max_segments:]
            folded = True
        trailing_slash = path.endswith("/") or dot_last
        while True:
            if folded:
                template = "/" + "/".join([*out, MORE])
            else:
                template = "/" + "/".join(out) + ("/" if trailing_slash and out else "")
            if len(template) <= self._max_length:
                return template
            out.pop()  # terminates: "/{more}" always fits
            folded = True

    def _pieces(self, raw: str) -> list[tuple[str, str, bool]]:
        """(published, decoded, rule may start here) for each segment a raw segment holds once decoded.

        ';' starts matrix params (dropped), raw or encoded; an encoded '/' splits. A segment that
        decoding did not split is published as logged, the pieces of a split one decoded.
        """
        head, semi, _ = raw.partition(";")
        if semi and head[-1:].isdigit() and _is_coordinates(whole := _decode(raw)):
            return [("{geo}", whole, False)]  # 48.8566;2.3522 is one value, not a path and its params
        text = _decode(head)
        published = head
        if ";" in text:
            if _is_coordinates(text):
                return [("{geo}", text, False)]
            text = published = text.split(";", 1)[0]  # the raw form would still hold the params
        if "/" in text or "\\" in text:
            parts = [(part, part) for part in _SEPARATORS.split(text) if part]
        elif text:
            parts = [(published, text)]
        else:
            parts = []
        pieces = []
        kept = True
        for published, part in parts:
            placeholder = classify_segment(part)
            kept = kept and placeholder is None
            pieces.append((published if placeholder is None else placeholder, part, self._may_start(part)))
        if len(pieces) == 1 and kept and pieces[0][1] not in (".", ".."):  # a dot segment is resolved, never kept
            if len(self._kept) >= _CACHE_SIZE:  # words repeat across paths that ids make unique
                self._kept.clear()
            self._kept[raw] = pieces[0]
        return pieces

    def _may_start(self, segment: str) -> bool:
        """Whether some rule's first segment matches ``segment``: only there are rules tried."""
        key = segment.casefold()
        if key in self._rules_by_first:
            return True
        return (
            self._any_first is not None
            and key.startswith(self._any_first_prefixes)
            and self._any_first.fullmatch(segment) is not None
        )

    def _apply_rules(self, decoded: list[str], out: list[str], starts: list[bool]) -> None:
        """Template where a rule matches, starting at any segment, whatever the case."""
        for start, segment in enumerate(decoded):
            if not starts[start]:
                continue
            rules = self._rules_by_first.get(segment.casefold()) or self._rules_any_first
            for rule in rules:
                for index, template in rule.params(decoded, start).items():
                    out[index] = template

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
