"""Which per-line core runs: the compiled one (``logscrub._native``, Rust) when it is installed, else
the Python reference. ``LOGSCRUB_NATIVE=0`` forces the reference.

The compiled core mirrors the reference byte for byte (``tests/native`` holds both to it), so
choosing it changes speed only. The adapters below give the reference's own types back (``Request``,
``ParseError``, address objects), so a caller can swap one core for the other; anything the compiled
core leaves to Python (user agents, the Public Suffix List, GeoIP, non-ASCII paths) is called back.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from types import ModuleType
from typing import Any

from logscrub.parsing.record import ParseError, Request

ENV = "LOGSCRUB_NATIVE"


def _load() -> tuple[ModuleType | None, str]:
    if os.environ.get(ENV, "").strip() == "0":
        return None, f"python ({ENV}=0)"
    try:
        module = importlib.import_module("logscrub._native")
    except ImportError:
        return None, "python (no compiled core installed)"
    return module, f"native (logscrub._native {module.__version__})"


_native, _description = _load()


def available() -> bool:
    """Whether the compiled core is loaded (installed, and not turned off by LOGSCRUB_NATIVE=0)."""
    return _native is not None


def core() -> str:
    """``native`` or ``python``: the short name ``logscrub --version`` prints."""
    return "native" if _native is not None else "python"


def describe() -> str:
    """One line for a worker's start-up log: which core runs, and why when it is the reference."""
    return f"per-line core: {_description}"


def module() -> ModuleType:
    """The compiled module; raises ImportError when it is not loaded (callers check ``available``)."""
    if _native is None:
        raise ImportError(f"the compiled core is not loaded: {_description}")
    return _native


# ---- adapters with the reference's types -----------------------------------------------------


@lru_cache(maxsize=256)
def _zone(offset_us: int) -> timezone:
    return timezone.utc if offset_us == 0 else timezone(timedelta(microseconds=offset_us))


def _request(fields: tuple[Any, ...]) -> Request:
    y, mo, d, h, mi, s, us, offset = fields[1]
    return Request(fields[0], datetime(y, mo, d, h, mi, s, us, _zone(offset)), *fields[2:])


def make_parser(
    format: str, *, nginx_log_format: str | None = None, json_fields: Mapping[str, str] | None = None
) -> Callable[[str], Request]:
    """The compiled twin of ``parsing.formats.make_parser``: same Requests, same ParseError reasons.

    Settings are checked by the reference's own factory first, so errors read the same.
    """
    from logscrub.parsing.formats import make_parser as reference
    from logscrub.parsing.nginx_format import read_log_format

    reference(format, nginx_log_format=nginx_log_format, json_fields=json_fields)
    template, escape = read_log_format(nginx_log_format) if format == "nginx" and nginx_log_format else (None, "default")
    parser = module().Parser(format, template, escape, list((json_fields or {}).items()) or None)
    parse = parser.parse

    def parse_line(line: str) -> Request:
        got = parse(line)
        if type(got) is str:
            raise ParseError(got)
        return _request(got)

    return parse_line


IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(packed: bytes | None) -> IP | None:
    return None if packed is None else ipaddress.ip_address(packed)


def parse_ip(text: str | None) -> IP | None:
    """``privacy.ip.parse_ip``."""
    return _address(module().parse_ip(text if isinstance(text, str) else None))


def trusted_networks(networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> list[tuple[int, int, int]]:
    """Trusted proxies as the compiled core takes them: (version, network address, prefix length)."""
    return [(n.version, int(n.network_address), n.prefixlen) for n in networks]


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[tuple[int, int, int]]) -> IP | None:
    """``privacy.ip.client_ip`` (``trusted`` from ``trusted_networks``)."""
    return _address(module().client_ip(peer, forwarded_for, list(trusted)))


def generalize_ip(ip: IP | None, mode: str, ipv4_prefix: int, ipv6_prefix: int, key: bytes | None = None) -> str | None:
    """``privacy.ip.IPGeneralizer(mode, ipv4_prefix, ipv6_prefix)(ip, key)``."""
    return module().generalize_ip(None if ip is None else ip.packed, mode, ipv4_prefix, ipv6_prefix, key)


def path_generalizer(
    rules: Sequence[str] = (), query_allow: Sequence[str] = (), max_segments: int = 12, max_length: int = 256
) -> Callable[[str | None], tuple[str | None, dict[str, str] | None]]:
    """The compiled twin of ``privacy.url.PathGeneralizer``; targets that decode to non-ASCII, and
    configs with non-ASCII rules, are the reference's (it is built here and called for those)."""
    from logscrub.privacy.referrer import registrable_domain
    from logscrub.privacy.url import PathGeneralizer

    reference = PathGeneralizer(rules, query_allow, max_segments, max_length)
    try:
        return module().PathGeneralizer(  # type: ignore[no-any-return]
            list(rules), list(query_allow), max_segments, max_length, registrable_domain, reference
        )
    except ValueError:  # non-ASCII rules or keys: Unicode case rules stay with the reference
        return reference


def dumps(obj: Any) -> bytes:
    """``orjson.dumps(obj)`` for records (dicts of str, int, float, bool, None, and nested dicts)."""
    return module().dumps(obj)  # type: ignore[no-any-return]
