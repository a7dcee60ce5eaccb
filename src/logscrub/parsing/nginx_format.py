"""Compile an nginx ``log_format`` into a parser.

Each variable reads up to the first character of the literal text after it, so
an unquoted variable must not contain that character (nginx escapes ``"``, so
quoted variables are always safe). Also home of the field codecs for nginx's
own value types (``$time_iso8601``, ``$msec``, ``$request_time``, byte counts),
which JSON logs share.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import MISSING, fields
from datetime import UTC, datetime

from logscrub.parsing.clf import parse_clf_time, parse_status, split_request_line, text_field
from logscrub.parsing.record import ParseError, Request

# ---- value codecs -------------------------------------------------------------------------

_CACHE_MAX = 4096
_iso_times: dict[str, datetime] = {}


def parse_iso_time(value: str) -> datetime:
    """ISO 8601 with a zone (``$time_iso8601``, Traefik's ``StartUTC``); cached like CLF times."""
    t = _iso_times.get(value)
    if t is None:
        try:
            t = datetime.fromisoformat(value)
        except ValueError:
            raise ParseError("bad_time", "time is not ISO 8601") from None
        if t.tzinfo is None:
            # Guessing a zone would shift every event by hours without anyone noticing.
            raise ParseError("bad_time", "ISO 8601 time has no zone")
        if len(_iso_times) >= _CACHE_MAX:
            _iso_times.clear()
        _iso_times[value] = t
    return t


def epoch_time(seconds: float) -> datetime:
    """Seconds since the epoch (Caddy's ``ts``), in UTC."""
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ParseError("bad_time", "epoch time is out of range") from None


_DECIMAL = re.compile(r"\d{1,12}(?:\.\d{1,9})?", re.ASCII)


def parse_msec(value: str) -> datetime:
    """``$msec``: epoch seconds with a millisecond fraction."""
    if _DECIMAL.fullmatch(value) is None:
        raise ParseError("bad_time", "epoch time is not a decimal number")
    return epoch_time(float(value))


def parse_seconds(value: str) -> float | None:
    """``$request_time``: seconds with a millisecond fraction, or ``-``."""
    if value == "-" or not value:
        return None
    if _DECIMAL.fullmatch(value) is None:
        raise ParseError("bad_field", "duration is not a decimal number")
    return float(value)


def parse_bytes(value: str) -> int:
    """A byte count; ``-`` (nothing sent) is 0. Bounded: int() refuses very long digit strings."""
    if value == "-" or not value:
        return 0
    if not (value.isascii() and value.isdigit() and len(value) <= 19):
        raise ParseError("bad_field", "byte count is not a number")
    return int(value)


# ---- reading the directive ----------------------------------------------------------------

_CONF_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([^\s'";]+)|(;)|(.)""", re.DOTALL
)
_CONF_ESCAPE = re.compile(r"""\\(["'\\tnr])""")
_CONF_CHARS = {"t": "\t", "n": "\n", "r": "\r"}
_ESCAPES = ("default", "json", "none")


def _conf_unescape(text: str) -> str:
    return _CONF_ESCAPE.sub(lambda m: _CONF_CHARS.get(m[1], m[1]), text)


def read_log_format(spec: str) -> tuple[str, str]:
    """(format, escape) from a ``log_format`` directive as pasted from nginx.conf, or a bare format."""
    text = spec.strip()
    if re.match(r"log_format\s", text) is None:
        return spec.strip("\r\n"), "default"
    words: list[str] = []
    escape = "default"
    ended = False
    for m in _CONF_TOKEN.finditer(text, len("log_format")):
        single, double, bare, semicolon, stray = m.groups()
        if stray is not None:
            raise ValueError("log_format: unbalanced quote")
        if ended and (single, double, bare) != (None, None, None):
            raise ValueError("log_format: text after ';' (paste one directive)")
        if semicolon is not None:
            ended = True
        elif bare is not None and len(words) == 1 and bare.startswith("escape="):
            escape = bare.removeprefix("escape=")
            if escape not in _ESCAPES:
                raise ValueError(f"log_format: escape must be one of {', '.join(_ESCAPES)}")
        else:
            word = next((w for w in (single, double, bare) if w is not None), None)
            if word is not None:
                words.append(_conf_unescape(word))
    if len(words) < 2:
        raise ValueError("log_format: expected a name and at least one format string")
    return "".join(words[1:]), escape


# ---- compiling the format -----------------------------------------------------------------

_Convert = Callable[[str], object]
# Per Request field, the variables that can fill it, best first.
_SOURCES: dict[str, tuple[tuple[str, _Convert], ...]] = {
    "client": (("remote_addr", text_field),),
    "time": (("time_local", parse_clf_time), ("time_iso8601", parse_iso_time), ("msec", parse_msec)),
    "method": (("request_method", text_field),),
    "target": (("request_uri", text_field),),
    "protocol": (("server_protocol", text_field),),
    "status": (("status", parse_status),),
    "bytes": (("body_bytes_sent", parse_bytes), ("bytes_sent", parse_bytes)),
    "referrer": (("http_referer", text_field),),
    "user_agent": (("http_user_agent", text_field),),
    "user": (("remote_user", text_field),),
    "host": (("host", text_field), ("server_name", text_field)),
    "forwarded_for": (("http_x_forwarded_for", text_field),),
    "duration": (("request_time", parse_seconds),),
}
_REQUEST_PARTS = ("method", "target", "protocol")
_FIELDS = tuple(f.name for f in fields(Request))
_DEFAULTS = {f.name: None if f.default is MISSING else f.default for f in fields(Request)}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))", re.ASCII)
_FLAGS = re.ASCII | re.DOTALL


def _split_template(template: str) -> list[tuple[bool, str]]:
    """[(is_variable, text)], literals merged."""
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in _VARIABLE.finditer(template):
        if m.start() > pos:
            parts.append((False, template[pos : m.start()]))
        parts.append((True, m[1] or m[2]))
        pos = m.end()
    if pos < len(template):
        parts.append((False, template[pos:]))
    return parts


def _value_pattern(name: str, following: tuple[bool, str] | None, escaped: bool, fast: bool) -> str:
    if name == "time_local":
        return r"[^ ]+ [+-]\d{4}"  # the only variable with a space in it
    if following is None:
        return ".*"
    if following[0]:
        return ".*?"  # two variables back to back: nothing to stop at
    stop = re.escape(following[1][0])
    if fast or not escaped:
        # The fast form is refused on a backslash before the stop character; the full one follows escapes.
        return f"[^{stop}]*" + (r"(?<!\\)" if escaped else "")
    return rf"[^{stop}\\]*(?:\\.[^{stop}\\]*)*"


def _pattern(parts: list[tuple[bool, str]], captured: dict[str, int], escaped: bool, fast: bool) -> str:
    out = []
    seen = set()
    for i, (is_variable, text) in enumerate(parts):
        if not is_variable:
            out.append(re.escape(text))
            continue
        body = _value_pattern(text, parts[i + 1] if i + 1 < len(parts) else None, escaped, fast)
        if text in captured and text not in seen:
            seen.add(text)
            out.append(f"({body})")
        else:
            out.append(f"(?:{body})")
    return "".join(out)


def _sources(present: list[str]) -> dict[str, tuple[str, _Convert]]:
    """Request field -> (variable, converter) for the fields this format can fill."""
    chosen: dict[str, tuple[str, _Convert]] = {}
    for field, candidates in _SOURCES.items():
        source = next(((v, c) for v, c in candidates if v in present), None)
        if source is not None:
            chosen[field] = source
    if "time" not in chosen:
        raise ValueError("log_format has no time variable ($time_local, $time_iso8601 or $msec)")
    return chosen


def compile_log_format(spec: str) -> Callable[[str], Request]:
    """A parser for lines written by ``spec`` (a ``log_format`` directive, or the bare format).

    Recognized variables fill the Request; others are matched and ignored. ``$request``
    fills what ``$request_method``/``$request_uri``/``$server_protocol`` do not; without
    ``$request`` or ``$request_uri``, ``$uri`` and ``$args`` make the target.
    """
    template, escape = read_log_format(spec)
    parts = _split_template(template)
    present = [text for is_variable, text in parts if is_variable]
    sources = _sources(present)
    used = {variable for variable, _ in sources.values()}
    if "request" in present:
        used.add("request")
    elif "target" not in sources and "uri" in present:
        used.update(("uri", "args"))
    captured = {name: index for index, name in enumerate(dict.fromkeys(v for v in present if v in used))}

    escaped = escape != "none"
    fast = re.compile(_pattern(parts, captured, escaped, fast=True), _FLAGS).fullmatch
    full = re.compile(_pattern(parts, captured, escaped, fast=False), _FLAGS).fullmatch if escaped else fast
    text = text_field if escaped else _raw_text
    defaults = [_DEFAULTS[name] for name in _FIELDS]
    plan = [
        (_FIELDS.index(field), captured[variable], text if convert is text_field else convert)
        for field, (variable, convert) in sources.items()
    ]
    request_index = captured.get("request")
    uri_index = captured.get("uri")
    args_index = captured.get("args")
    method_at, target_at, protocol_at = (_FIELDS.index(field) for field in _REQUEST_PARTS)

    def parse(line: str) -> Request:
        line = line.rstrip("\r\n")
        m = fast(line) or full(line)
        if m is None:
            raise ParseError("no_match", "line does not match the configured log_format")
        g = m.groups()
        args = defaults.copy()
        if request_index is not None:
            args[method_at], args[target_at], args[protocol_at] = split_request_line(text(g[request_index]))
        elif uri_index is not None:
            args[target_at] = _target(text(g[uri_index]), None if args_index is None else text(g[args_index]))
        for position, index, convert in plan:  # after $request: the specific variables win
            args[position] = convert(g[index])
        return Request(*args)

    return parse


def _raw_text(value: str | None) -> str | None:
    # escape=none logs values raw: the escape-aware reader would mangle their backslashes.
    return None if not value or value == "-" else value


def _target(path: str | None, query: str | None) -> str | None:
    if path is None or not query:
        return path
    return f"{path}?{query}"
