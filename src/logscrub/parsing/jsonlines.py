"""JSON lines: nginx ``escape=json``, Caddy and Traefik access logs, or any layout by config.

Fields are found by dotted paths (``request.headers.User-Agent``), with defaults
for each of the three dialects; ``json_fields`` replaces the paths of the fields
it names, whatever the dialect. Besides the Request fields, a mapping may name
``request`` (a whole request line, used where method/target/protocol are
missing) and ``duration_ns`` (a duration in nanoseconds, as Traefik logs it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from datetime import datetime
from typing import Any

import orjson

from logscrub.parsing.clf import parse_clf_time, parse_status, split_request_line
from logscrub.parsing.nginx_format import epoch_time, parse_bytes, parse_iso_time, parse_msec, parse_seconds
from logscrub.parsing.record import ParseError, Request

_Paths = dict[str, tuple[str, ...]]
# Default paths per dialect, best first. A line is Caddy's when "request" is an object,
# Traefik's when it has "DownstreamStatus", else keyed by nginx variable names.
CADDY_FIELDS: _Paths = {
    "client": ("request.client_ip", "request.remote_ip"),
    "time": ("ts",),
    "method": ("request.method",),
    "target": ("request.uri",),
    "protocol": ("request.proto",),
    "status": ("status",),
    "bytes": ("size",),
    "referrer": ("request.headers.Referer",),
    "user_agent": ("request.headers.User-Agent",),
    "user": ("user_id",),
    "host": ("request.host",),
    "forwarded_for": ("request.headers.X-Forwarded-For",),
    "duration": ("duration",),
}
TRAEFIK_FIELDS: _Paths = {
    "client": ("ClientHost",),
    "time": ("StartUTC", "time"),
    "method": ("RequestMethod",),
    "target": ("RequestPath",),
    "protocol": ("RequestProtocol",),
    "status": ("DownstreamStatus",),
    "bytes": ("DownstreamContentSize",),
    "referrer": ("request_Referer",),
    "user_agent": ("request_User-Agent",),
    "user": ("ClientUsername",),
    "host": ("RequestHost",),
    "forwarded_for": ("request_X-Forwarded-For",),
    "duration_ns": ("Duration",),
}
NGINX_FIELDS: _Paths = {
    "client": ("remote_addr",),
    "time": ("time_iso8601", "time_local", "msec", "time"),
    "request": ("request",),
    "method": ("request_method",),
    "target": ("request_uri",),
    "protocol": ("server_protocol",),
    "status": ("status",),
    "bytes": ("body_bytes_sent", "bytes_sent"),
    "referrer": ("http_referer",),
    "user_agent": ("http_user_agent",),
    "user": ("remote_user",),
    "host": ("host", "server_name"),
    "forwarded_for": ("http_x_forwarded_for",),
    "duration": ("request_time",),
}


def _text(value: Any) -> str | None:
    if type(value) is str:
        return None if not value or value == "-" else value
    if type(value) is list:  # Caddy logs each header as a list of values
        return ", ".join(v for v in value if type(v) is str and v and v != "-") or None
    if type(value) in (int, float):
        return str(value)
    return None  # an object or a bool is no text: another default path may still match


def _time(value: Any) -> datetime:
    if type(value) in (int, float):
        return epoch_time(value)
    if type(value) is not str:
        raise ParseError("bad_time", "time is neither a number nor a string")
    if value[:1].isdigit() and value.replace(".", "", 1).isdigit():
        return parse_msec(value)
    if "/" in value[:6]:
        return parse_clf_time(value)
    return parse_iso_time(value)


def _status(value: Any) -> int:
    if type(value) is int and 100 <= value <= 599:
        return value
    if type(value) is str:
        return parse_status(value)
    raise ParseError("bad_status", "status is not a 3-digit code in 100-599")


def _bytes(value: Any) -> int:
    if type(value) is int and value >= 0:
        return value
    if type(value) is str:
        return parse_bytes(value)
    raise ParseError("bad_field", "byte count is not a number")


def _seconds(value: Any, scale: float = 1.0) -> float | None:
    if type(value) in (int, float) and value >= 0 and not math.isinf(value):
        return value / scale
    if type(value) is str:
        seconds = parse_seconds(value)
        return None if seconds is None else seconds / scale
    raise ParseError("bad_field", "duration is not a number")


def _nanoseconds(value: Any) -> float | None:
    return _seconds(value, 1e9)


_CONVERT: dict[str, Callable[[Any], object]] = {
    "client": _text,
    "time": _time,
    "method": _text,
    "target": _text,
    "protocol": _text,
    "request": _text,
    "status": _status,
    "bytes": _bytes,
    "referrer": _text,
    "user_agent": _text,
    "user": _text,
    "host": _text,
    "forwarded_for": _text,
    "duration": _seconds,
    "duration_ns": _nanoseconds,
}


def _lookup(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = obj
    for key in keys:
        if type(value) is not dict:
            return None
        value = value.get(key)
    return value


# Request's fields in order, then the two that only feed others: a parser fills one list per line.
_SLOTS = (*(f.name for f in fields(Request)), "request", "duration_ns")
_DEFAULTS = [None if f.default is MISSING else f.default for f in fields(Request)] + [None, None]
_TIME, _METHOD, _TARGET, _PROTOCOL, _DURATION, _REQUEST, _DURATION_NS = (
    _SLOTS.index(name) for name in ("time", "method", "target", "protocol", "duration", "request", "duration_ns")
)
# (slot, converter, paths): a path is a top-level key, or a tuple of keys to walk.
_Plan = tuple[tuple[int, Callable[[Any], object], tuple[str | tuple[str, ...], ...]], ...]


def _plan(defaults: _Paths, overrides: Mapping[str, str]) -> _Plan:
    paths = {**defaults, **{field: (path,) for field, path in overrides.items()}}
    return tuple(
        (_SLOTS.index(field), _CONVERT[field], tuple(p if "." not in p else tuple(p.split(".")) for p in candidates))
        for field, candidates in paths.items()
    )


def make_json_parser(json_fields: Mapping[str, str] | None = None) -> Callable[[str], Request]:
    """A parser for one JSON object per line; ``json_fields`` maps a field to a dotted path."""
    overrides = dict(json_fields or {})
    for field, path in overrides.items():
        if field not in _CONVERT:
            raise ValueError(f"json_fields: unknown field {field!r} (known: {', '.join(_CONVERT)})")
        if not isinstance(path, str) or not path.strip("."):
            raise ValueError(f"json_fields.{field}: expected a dotted path like request.remote_ip")
    caddy, traefik, nginx = (_plan(d, overrides) for d in (CADDY_FIELDS, TRAEFIK_FIELDS, NGINX_FIELDS))

    def parse(line: str) -> Request:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ParseError("bad_json", "line is not valid JSON") from None
        if type(obj) is not dict:
            raise ParseError("bad_json", "line is not a JSON object")
        if type(obj.get("request")) is dict:
            plan = caddy
        elif "DownstreamStatus" in obj:
            plan = traefik
        else:
            plan = nginx
        args = _DEFAULTS.copy()
        for slot, convert, candidates in plan:
            for keys in candidates:
                raw = obj.get(keys) if type(keys) is str else _lookup(obj, keys)
                if raw is not None and (value := convert(raw)) is not None:
                    args[slot] = value
                    break
        if args[_TIME] is None:
            raise ParseError("missing_field", "no time field")
        return _request(args)

    return parse


def _request(args: list[Any]) -> Request:
    if args[_REQUEST] is not None:
        for slot, value in zip((_METHOD, _TARGET, _PROTOCOL), split_request_line(args[_REQUEST])):
            if args[slot] is None:
                args[slot] = value
    if args[_DURATION] is None:
        args[_DURATION] = args[_DURATION_NS]
    del args[_REQUEST:]  # the two extra slots are last
    return Request(*args)
