"""Apache/nginx ``common``, ``combined`` and ``vhost_combined`` lines.

Also home of the field codecs every text format shares (escapes, request
line, status, CLF time), so the nginx ``log_format`` compiler reads fields
exactly the way these parsers do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from logscrub.parsing.record import ParseError, Request

_FLAGS = re.ASCII | re.DOTALL

# ---- field codecs -------------------------------------------------------------------------

# One pass covers Apache (\" \\ \xhh), nginx escape=default (\xHH per byte) and
# escape=json (\" \\ \n \u00XX). Runs of \xHH are decoded together: they are UTF-8 bytes.
_ESCAPE = re.compile(r"((?:\\x[0-9A-Fa-f]{2})+)|\\u([0-9A-Fa-f]{4})|\\(.)", _FLAGS)
_CONTROL = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v"}


def _unescape_one(m: re.Match[str]) -> str:
    hex_run, code, char = m.groups()
    if hex_run is not None:
        return bytes.fromhex(hex_run.replace("\\x", "")).decode("utf-8", "replace")
    if code is not None:
        point = int(code, 16)
        # A lone surrogate would make every later .encode() of the field fail.
        return "\ufffd" if 0xD800 <= point <= 0xDFFF else chr(point)
    return _CONTROL.get(char, char)


def text_field(value: str | None) -> str | None:
    """A logged string field, unescaped (a quote logged as ``\\"`` or ``\\x22`` reads ``"``).

    ``-`` (or nothing) means the value was absent.
    """
    if not value or value == "-":
        return None
    return _ESCAPE.sub(_unescape_one, value) if "\\" in value else value


_REQUEST_LINE = re.compile(
    r"([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^ ].*?)(?: ([A-Z]{2,}/[0-9]+(?:\.[0-9]+)?))?", _FLAGS
)  # method token, target, optional protocol
_NO_REQUEST: tuple[None, None, None] = (None, None, None)
# The usual shapes skip the regex; anything else still gets the full check.
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PROPFIND"))
_PROTOCOLS = frozenset(("HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/2", "HTTP/3.0", "HTTP/3"))


def split_request_line(line: str | None) -> tuple[str | None, str | None, str | None]:
    """(method, target, protocol), or all None for ``-``, garbage or TLS bytes on port 80.

    Not an error: servers log such lines (mostly with status 400) and they must still count.
    """
    if line is None:
        return _NO_REQUEST
    parts = line.split(" ")
    if len(parts) == 3 and parts[0] in _METHODS and parts[2] in _PROTOCOLS and parts[1]:
        return parts[0], parts[1], parts[2]
    m = _REQUEST_LINE.fullmatch(line)
    return _NO_REQUEST if m is None else m.groups()  # type: ignore[return-value]


_STATUS = {str(code): code for code in range(100, 600)}


def parse_status(value: str) -> int:
    """The HTTP status; a dict lookup doubles as the 3-digit, 100-599 check."""
    code = _STATUS.get(value)
    if code is None:
        raise ParseError("bad_status", "status is not a 3-digit code in 100-599")
    return code


_MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
_CLF_TIME = re.compile(r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", re.ASCII)
_CACHE_MAX = 4096
_clf_times: dict[str, datetime] = {}
_clf_minutes: dict[str, datetime] = {}  # the time without its seconds -> a time in that minute


def parse_clf_time(value: str) -> datetime:
    """``10/Oct/2000:13:55:36 -0700``; cached because neighbouring lines share their second."""
    t = _clf_times.get(value)
    if t is None:
        t = _parse_clf_time_in_minute(value)
        if len(_clf_times) >= _CACHE_MAX:
            _clf_times.clear()
        _clf_times[value] = t
    return t


def _parse_clf_time_in_minute(value: str) -> datetime:
    """Lines of one minute differ in their seconds only: a known minute skips the full parse."""
    seconds = value[-8:-6]
    shaped = value[-9:-8] == ":" and value[-6:-5] == " " and len(seconds) == 2
    if not (shaped and seconds.isascii() and seconds.isdigit()):
        return _parse_clf_time(value)  # not the shape of a valid time: let the full parse say why
    minute = value[:-9] + value[-6:]
    known = _clf_minutes.get(minute)
    if known is None:
        known = _parse_clf_time(value)
        if len(_clf_minutes) >= _CACHE_MAX:
            _clf_minutes.clear()
        _clf_minutes[minute] = known
        return known
    try:
        return known.replace(second=int(seconds))
    except ValueError:
        raise ParseError("bad_time", "time is out of range") from None


def _parse_clf_time(value: str) -> datetime:
    m = _CLF_TIME.fullmatch(value)
    month = _MONTHS.get(m[2].title()) if m is not None else None
    if m is None or month is None:
        raise ParseError("bad_time", "time is not like 10/Oct/2000:13:55:36 -0700")
    day, _, year, hour, minute, second, sign, tz_hours, tz_minutes = m.groups()
    offset = timedelta(hours=int(tz_hours), minutes=int(tz_minutes))
    try:
        return datetime(
            int(year), month, int(day), int(hour), int(minute), int(second),
            tzinfo=timezone(-offset if sign == "-" else offset),
        )  # fmt: skip
    except ValueError:
        raise ParseError("bad_time", "time is out of range") from None


# ---- the formats --------------------------------------------------------------------------

# Each format has two regexes. The fast one reads quoted fields as [^"]*, which the regex
# engine scans several times faster, and refuses a closing quote after a backslash. Lines it
# refuses (escaped quotes, raw quotes in a user agent, no match) go to the full one, whose
# quoted fields honour backslash escapes (unrolled, so linear in the field length).
_FAST_Q = r'"([^"]*)(?<!\\)"'
_FULL_Q = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_TAIL = r"(?: .*)?"  # trailing fields (nginx extras, %D, ...) are ignored: custom layouts use the nginx format
# ``auto`` reads a line as ``common`` only if no quoted field follows its size: a quote there starts a
# combined line's referrer, and a combined line cut short (its user agent's closing quote lost) must
# be rejected, not read as ``common`` without its user agent.
_UNQUOTED_TAIL = r'(?: (?!").*)?'
_VHOST = r"(\S+?)(?::\d+)? "


def _common(q: str) -> str:
    # %h %l %u %t "%r" %>s %b; the status is loose here so a bad one is reported as bad_status.
    return rf"(\S+) \S+ (\S+) \[([^\]]*)\] {q} (\S+) (\d{{1,19}}|-)"


_FAST_AGENTS = f" {_FAST_Q} {_FAST_Q}{_TAIL}"
# A user agent with raw, unescaped quotes falls back to "everything up to the last quote".
_FULL_AGENTS = f' {_FULL_Q} (?:{_FULL_Q}{_TAIL}|"(.*)"(?: [^"]*)?)'


_Matcher = Callable[[str], "re.Match[str] | None"]


def _pair(fast: str, full: str) -> tuple[_Matcher, _Matcher]:
    return re.compile(fast, _FLAGS).fullmatch, re.compile(full, _FLAGS).fullmatch


_COMMON = _pair(_common(_FAST_Q) + _TAIL, _common(_FULL_Q) + _TAIL)
_COMMON_UNQUOTED_TAIL = _pair(_common(_FAST_Q) + _UNQUOTED_TAIL, _common(_FULL_Q) + _UNQUOTED_TAIL)
_COMBINED = _pair(_common(_FAST_Q) + _FAST_AGENTS, _common(_FULL_Q) + _FULL_AGENTS)
_VHOST_COMBINED = _pair(_VHOST + _common(_FAST_Q) + _FAST_AGENTS, _VHOST + _common(_FULL_Q) + _FULL_AGENTS)


def _match(matchers: tuple[_Matcher, _Matcher], line: str, name: str) -> tuple[str | None, ...]:
    line = line.rstrip("\r\n")
    m = matchers[0](line) or matchers[1](line)
    if m is None:
        raise ParseError("no_match", f"line is not in {name} log format")
    return m.groups()


def _request(
    client: str,
    user: str,
    time: str,
    request: str,
    status: str,
    size: str,
    referrer: str | None = None,
    agent: str | None = None,
    loose_agent: str | None = None,
    host: str | None = None,
) -> Request:
    method, target, protocol = split_request_line(text_field(request))
    # Positional: keywords cost a microsecond per line. Order is Request's field order.
    return Request(
        None if client == "-" else client,
        parse_clf_time(time),
        method,
        target,
        protocol,
        parse_status(status),
        0 if size == "-" else int(size),
        text_field(referrer),
        text_field(agent if loose_agent is None else loose_agent),
        text_field(user),
        host,
    )


def parse_common(line: str) -> Request:
    """``%h %l %u %t "%r" %>s %b``."""
    return _request(*_match(_COMMON, line, "common"))  # type: ignore[arg-type]


def parse_common_alone(line: str) -> Request:
    """``common`` with no quoted field after the size: how ``auto`` reads a common line, so that no line
    has the shape of two formats (a combined line, whole or cut short, is never one of these)."""
    return _request(*_match(_COMMON_UNQUOTED_TAIL, line, "common"))  # type: ignore[arg-type]


def parse_combined(line: str) -> Request:
    """``common`` plus ``"%{Referer}i" "%{User-agent}i"``."""
    return _request(*_match(_COMBINED, line, "combined"))  # type: ignore[arg-type]


def parse_vhost_combined(line: str) -> Request:
    """``%v:%p`` then ``combined``; the port is dropped from the host."""
    host, *fields = _match(_VHOST_COMBINED, line, "vhost_combined")
    return _request(*fields, host=host)  # type: ignore[arg-type]


_LAYOUTS = {"common": _COMMON, "combined": _COMBINED, "vhost_combined": _VHOST_COMBINED}


def parse_located(fmt: str, line: str) -> tuple[Request, re.Match[str]]:
    """The format's parse, plus the match it read: its spans say where each field sits, for a
    filter that rewrites fields in place (``logscrub mask``). Groups: the vhost (vhost_combined
    only), client, user, time, request, status, size, then referrer, agent and a loose agent."""
    line = line.rstrip("\r\n")
    fast, full = _LAYOUTS[fmt]
    m = fast(line) or full(line)
    if m is None:
        raise ParseError("no_match", f"line is not in {fmt} log format")
    if fmt == "vhost_combined":
        host, *fields = m.groups()
        return _request(*fields, host=host), m  # type: ignore[arg-type]
    return _request(*m.groups()), m  # type: ignore[arg-type]
