"""Every byte of the input is attacker-controlled: each hostile line gets an event or a rejection
with a reason, never an exception, and nothing it carries leaks into analytics."""

from __future__ import annotations

import re

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logscrub.scrub import build
from logscrub.config import load

T = "[28/Nov/2026:10:00:00 +0000]"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
OK = f'203.0.113.9 - - {T} "GET /a HTTP/1.1" 200 5 "-" "Mozilla/5.0"'.encode()


def scrubber(fmt: str = "combined", **env: str):
    cfg = load(None, env={"LOGSCRUB_INPUT__FORMAT": fmt, **env})
    return build.scrubber(cfg, fmt, *build.key_rings(cfg, None))


def outcome(s, line: bytes):
    o = s.process(line, 1e9)
    assert [o.event is not None, o.withheld, o.reason is not None].count(True) == 1  # one outcome per line
    assert (o.update is None) == (o.event is None)
    return o


HOSTILE = {
    "1 MB line": b"203.0.113.9 - - " + b"A" * (1 << 20),
    "NUL bytes": OK.replace(b"/a", b"/a\x00b\x00"),
    "only NULs": b"\x00" * 500,
    "invalid UTF-8": OK.replace(b"/a", b"/\xff\xfe\xc3\x28"),
    "terminal escapes": OK.replace(b"Mozilla/5.0", b"\x1b]0;pwned\x07\x1b[2J\x1b[31mMozilla"),
    "CRLF injection": OK.replace(b"/a", b"/a\r\nX-Injected: 1\r\n"),
    "TLS handshake": f'203.0.113.9 - - {T} "\\x16\\x03\\x01\\x02\\x00\\x01" 400 0 "-" "-"'.encode(),
    "quote storm": b'203.0.113.9 - - ' + T.encode() + b' "GET /' + b'\\"' * 5000 + b' HTTP/1.1" 200 5 "'
    + b'\\"' * 5000 + b'" "x"',
    "pathological UA": OK.replace(b"Mozilla/5.0", b"Mozilla/5.0 " + b"(" * 20000 + b"Chrome/1" * 2000),
    "huge path": OK.replace(b"/a", b"/" + b"a/" * 20000),
    "huge referrer host": OK.replace(b'"-"', b'"http://' + b"a." * 20000 + b'com/"', 1),
    "bidi and zero-width": OK.replace(b"/a", "/a\u202e\u200bgpj.exe".encode()),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_lines_get_an_outcome(name):
    o = outcome(scrubber(), HOSTILE[name])
    if o.event is not None:
        assert len(orjson.dumps(o.event)) < 4096, "an event must not carry the attacker's megabytes"
        for field in ("browser", "os", "referrer_domain", "site", "method", "protocol"):
            assert not CONTROL.search(str(o.event[field])), (field, o.event[field])


def test_a_ten_thousand_hop_forwarded_for_chain_is_bounded():
    s = scrubber(
        "nginx",
        LOGSCRUB_INPUT__NGINX_LOG_FORMAT='$remote_addr [$time_local] "$request" $status $body_bytes_sent "$http_x_forwarded_for"',
        LOGSCRUB_IP__TRUSTED_PROXIES="[10.0.0.0/8]",
        LOGSCRUB_INPUT__MAX_LINE_BYTES=str(1 << 18),
        LOGSCRUB_EVENTS__CLIENT="network",
    )
    chain = ", ".join(["10.0.0.1"] * 10_000)
    o = outcome(s, f'10.1.1.1 {T} "GET / HTTP/1.1" 200 5 "198.51.100.7, {chain}"'.encode())
    assert o.reason is None
    assert o.event["client"] is None  # the real client is beyond the 64 hops we examine: unknown, not a proxy


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b'"', b"\\", b" ", b"[", b"]", b"-", b"\x00", b"\xff", b"GET", b"/", b"200",
                                 b"203.0.113.9", b"\r", b"\n", b"\x1b["]), max_size=300))
def test_lines_built_from_log_syntax_never_raise(parts):
    for fmt in ("combined", "auto"):
        outcome(scrubber.cache[fmt], b"".join(parts))


# Characters that rewrite what a reader of the analytics sees: C0 and C1 controls, DEL, and the
# invisible and bidi controls (U+202E shows "/a/\u202egpj.exe" as "/a/exe.jpg").
INVISIBLE = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))] + [
    "\u061c", "\u200b", "\u200d", "\u200e", "\u202a", "\u202e", "\u2028", "\u2066", "\u2069", "\ufeff",
    "\xa0", "\xad", "\u202f", "\u3000",  # spaces NFKC would fold into a plain one, and a soft hyphen
]
ENCODED = ["%0d%0a", "%00", "%1b", "%7F", "%C2%85", "%E2%80%AE", "%250a"]
WORDS = ["a", "users", "42", "x.html", "/", "%", ".", "-", "?", "q=", "&", "é", " ", "http://", "example.com"]
field_text = st.lists(
    st.sampled_from(INVISIBLE) | st.sampled_from(ENCODED) | st.sampled_from(WORDS)
    | st.characters(exclude_categories=("Cs",)),  # lone surrogates cannot be encoded into a line
    max_size=20,
).map("".join)


def published_strings(o) -> list[str]:
    """Every string an analyst receives from this line: each event field and aggregate dimension."""
    if o.event is None:  # withheld: nothing of it is published
        return []
    found = [v for v in o.event.values() if isinstance(v, str)]
    found += [v for v in (o.event.get("query") or {}).values()]
    found += [value for _, value in o.update.dims]
    return found


def assert_all_printable(o) -> None:
    for value in published_strings(o):
        assert value.isprintable(), ascii(value)


@pytest.mark.parametrize("char", [*INVISIBLE, *ENCODED], ids=ascii)
def test_a_path_segment_with_a_control_character_is_templated(char):
    s = scrubber(LOGSCRUB_URL__QUERY_ALLOW="[q]")
    for client in range(1, 6):  # k=5 clients, so that the event publishes its path (invariant 2)
        line = f'203.0.113.{client} - - {T} "GET /a/x{char}y/b?q=1{char} HTTP/1.1" 200 5 "-" "Mozilla/5.0"'
        o = outcome(s, line.encode())
    assert o.event["path"] == "/a/{unprintable}/b"
    assert o.event["query"] == {"q": "{unprintable}"}
    assert dict(o.update.dims)["path"] == "/a/{unprintable}/b"


@settings(max_examples=300, deadline=None)
@given(path=field_text, ua=field_text, referrer=field_text)
def test_no_control_character_reaches_analytics_from_combined_lines(path, ua, referrer):
    # Quotes and backslashes would end or escape the quoted fields: the JSON test below has them.
    path, ua, referrer = (v.replace('"', "").replace("\\", "") for v in (path, ua, referrer))
    line = f'203.0.113.9 - - {T} "GET /{path} HTTP/1.1" 200 5 "{referrer}" "{ua}"'
    o = outcome(scrubber.cache["query"], line.encode())
    if o.event is not None:
        assert_all_printable(o)


@settings(max_examples=300, deadline=None)
@given(path=field_text, ua=field_text, referrer=field_text, host=field_text, method=field_text)
def test_no_control_character_reaches_analytics_from_json_lines(path, ua, referrer, host, method):
    line = orjson.dumps({
        "remote_addr": "203.0.113.9", "time_iso8601": "2026-11-28T10:00:00+00:00", "request_method": method,
        "request_uri": "/" + path, "server_protocol": "HTTP/1.1", "status": 200, "body_bytes_sent": 5,
        "http_referer": referrer, "http_user_agent": ua, "host": host,
    })
    o = outcome(scrubber.cache["json"], line)
    assert o.reason is None  # a valid JSON line: every field above becomes a published value or none
    assert_all_printable(o)


scrubber.cache = {
    "combined": scrubber(),
    "auto": scrubber("auto"),
    "query": scrubber(LOGSCRUB_URL__QUERY_ALLOW="[q]"),
    "json": scrubber("json", LOGSCRUB_URL__QUERY_ALLOW="[q]"),
}
