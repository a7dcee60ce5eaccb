"""Differential fuzzing of the compiled core through its binding, with atheris: for every input,
the compiled parsers, address reader and path generalizer must answer what the Python reference
answers. Coverage comes from the reference's branches (instrumented), which steers inputs into
the shapes the reference tells apart; the compiled side has to keep up with each of them.

The first byte picks a format, as in fuzz_scrub.py, so both harnesses share fuzz/corpus.

    .venv/bin/pip install '.[fuzz]'
    .venv/bin/python fuzz/fuzz_native.py -max_total_time=60 -max_len=4096 fuzz/corpus
"""

from __future__ import annotations

import ipaddress
import sys

import atheris

with atheris.instrument_imports():
    from logscrub import native
    from logscrub.parsing.formats import make_parser
    from logscrub.parsing.record import ParseError
    from logscrub.privacy import ip
    from logscrub.privacy.url import PathGeneralizer

FORMATS = ("auto", "combined", "json", "nginx")
NGINX = '$remote_addr [$time_local] "$request" $status $body_bytes_sent "$http_user_agent" $request_time'
TRUSTED = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")]
RULES, ALLOW = ["/users/*", "/u/*/profile", "/@*"], ["q", "page"]


def _pair(fmt: str):  # noqa: ANN202 - a harness
    options = {"nginx_log_format": NGINX} if fmt == "nginx" else {}
    return make_parser(fmt, **options), native.make_parser(fmt, **options)


PARSERS = [_pair(fmt) for fmt in FORMATS]
PATHS = PathGeneralizer(RULES, ALLOW), native.path_generalizer(RULES, ALLOW)
NATIVE_TRUSTED = native.trusted_networks(TRUSTED)


def _fields(parse, line: str):  # noqa: ANN001, ANN202
    try:
        r = parse(line)
    except ParseError as e:
        return e.reason
    return (r.client, r.time.isoformat(), r.method, r.target, r.protocol, r.status, r.bytes, r.referrer,
            r.user_agent, r.user, r.host, r.forwarded_for, r.duration)


def one_input(data: bytes) -> None:
    if not data:
        return
    reference, compiled = PARSERS[data[0] % len(PARSERS)]
    line = data[1:].decode("utf-8", "replace")
    want = _fields(reference, line)
    assert _fields(compiled, line) == want, (line, want)
    first = line.split(" ", 1)[0]
    assert native.parse_ip(first) == ip.parse_ip(first), first
    assert native.client_ip(first, line, NATIVE_TRUSTED) == ip.client_ip(first, line, TRUSTED), line
    target = want[3] if isinstance(want, tuple) else line
    assert PATHS[1](target) == PATHS[0](target), target


if __name__ == "__main__":
    if not native.available():
        sys.exit(f"fuzz_native needs the compiled core: {native.describe()}")
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
