"""Apache/nginx common, combined and vhost_combined lines, as real servers write them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from logscrub.parsing.clf import (
    parse_clf_time,
    parse_combined,
    parse_common,
    parse_vhost_combined,
    split_request_line,
    text_field,
)
from logscrub.parsing.record import ParseError

MINUS7 = timezone(timedelta(hours=-7))
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
COMBINED = (
    '203.0.113.7 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?id=42 HTTP/1.0" 200 2326 '
    f'"http://www.example.com/start.html" "{UA}"'
)


def test_combined_reads_every_field():
    r = parse_combined(COMBINED)
    assert r.client == "203.0.113.7"
    assert r.user == "frank"
    assert r.time == datetime(2000, 10, 10, 13, 55, 36, tzinfo=MINUS7)
    assert r.time.utcoffset() == timedelta(hours=-7)
    assert (r.method, r.target, r.protocol) == ("GET", "/apache_pb.gif?id=42", "HTTP/1.0")
    assert (r.status, r.bytes) == (200, 2326)
    assert r.referrer == "http://www.example.com/start.html"
    assert r.user_agent == UA
    assert (r.host, r.forwarded_for, r.duration) == (None, None, None)


def test_common_has_no_referrer_or_agent():
    r = parse_common('127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.1" 304 -')
    assert (r.client, r.user, r.status, r.bytes) == ("127.0.0.1", None, 304, 0)
    assert (r.referrer, r.user_agent) == (None, None)


def test_ipv6_client():
    line = '2001:db8:85a3::8a2e:370:7334 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/2.0" 200 5 "-" "curl/8.5.0"'
    r = parse_combined(line)
    assert r.client == "2001:db8:85a3::8a2e:370:7334"
    assert r.time == datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_dash_everywhere_is_none_and_zero_bytes():
    r = parse_combined('- - - [01/Jan/2024:00:00:00 +0000] "-" 400 - "-" "-"')
    assert (r.client, r.user, r.method, r.target, r.protocol) == (None, None, None, None, None)
    assert (r.status, r.bytes, r.referrer, r.user_agent) == (400, 0, None, None)


@pytest.mark.parametrize(
    "request_field",
    [
        "-",
        "",  # nginx: a connection closed before any byte of a request
        r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03\xB5\xE1",  # TLS ClientHello on port 80 (nginx)
        r"\x16\x03\x01\x00\xca\x01",  # the same, lower-case hex
        "SSH-2.0-Go",
        "MGLNDD_203.0.113.9_80",
        r"\x05\x01\x00",  # SOCKS5
    ],
)
def test_malformed_request_line_still_counts(request_field):
    line = f'198.51.100.3 - - [29/Nov/2024:06:12:01 +0100] "{request_field}" 400 157 "-" "-"'
    r = parse_combined(line)
    assert (r.method, r.target, r.protocol) == (None, None, None)
    assert r.status == 400
    assert r.client == "198.51.100.3"


def test_escaped_quotes_in_agent_apache_style():
    line = r'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "Mozilla \"quoted\" x\\"'
    assert parse_combined(line).user_agent == 'Mozilla "quoted" x\\'


def test_escaped_quotes_in_agent_nginx_style():
    line = r'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "sqlmap\x22 OR 1=1--\x5C"'
    assert parse_combined(line).user_agent == 'sqlmap" OR 1=1--\\'


def test_escaped_quote_in_referrer_and_request():
    line = r'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a\"b HTTP/1.1" 200 1 "http://x/\"" "ua"'
    r = parse_combined(line)
    assert (r.target, r.referrer, r.user_agent) == ('/a"b', 'http://x/"', "ua")


def test_raw_unescaped_quotes_in_agent_fall_back_to_last_quote():
    line = '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "Mozilla "evil" agent"'
    assert parse_combined(line).user_agent == 'Mozilla "evil" agent'


def test_utf8_bytes_escaped_by_nginx_are_decoded():
    line = r'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /caf\xC3\xA9 HTTP/1.1" 200 1 "-" "bad \xFF byte"'
    r = parse_combined(line)
    assert r.target == "/café"
    assert r.user_agent == "bad \ufffd byte"


def test_very_long_url():
    target = "/search?q=" + "a%20b" * 4000
    line = f'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET {target} HTTP/1.1" 414 0 "-" "-"'
    r = parse_combined(line)
    assert r.target == target
    assert r.status == 414


def test_line_endings_are_stripped():
    assert parse_combined(COMBINED + "\r\n").user_agent == UA
    assert parse_combined(COMBINED + "\n").user_agent == UA


def test_trailing_fields_are_ignored():
    r = parse_combined(COMBINED + ' "10.0.0.1, 10.0.0.2" 0.005 "-"')
    assert r.user_agent == UA
    assert r.forwarded_for is None
    assert parse_common(COMBINED).status == 200


def test_vhost_combined_drops_the_port():
    line = (
        'example.com:443 2001:db8::1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 10 '
        '"-" "Wget/1.21"'
    )
    r = parse_vhost_combined(line)
    assert (r.host, r.client, r.user_agent) == ("example.com", "2001:db8::1", "Wget/1.21")


def test_vhost_combined_without_port_and_bracketed_ipv6_vhost():
    tail = ' 192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 10 "-" "-"'
    assert parse_vhost_combined("example.org" + tail).host == "example.org"
    assert parse_vhost_combined("[2001:db8::5]:8080" + tail).host == "[2001:db8::5]"


def test_formats_do_not_cross():
    with pytest.raises(ParseError) as e:
        parse_combined('127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1')
    assert e.value.reason == "no_match"
    with pytest.raises(ParseError):
        parse_vhost_combined(COMBINED)
    with pytest.raises(ParseError):
        parse_combined("example.com:80 " + COMBINED)


@pytest.mark.parametrize("status", ["2000", "099", "600", "abc", "20", "-", "２００"])
def test_bad_status(status):
    line = COMBINED.replace(" 200 ", f" {status} ")
    with pytest.raises(ParseError) as e:
        parse_combined(line)
    assert e.value.reason == "bad_status"


@pytest.mark.parametrize(
    "stamp",
    ["32/Oct/2000:13:55:36 -0700", "10/Foo/2000:13:55:36 -0700", "10/Oct/2000:24:00:00 +0000",
     "10/Oct/2000:13:55:36", "10/Oct/2000 13:55:36 -0700", "10/Oct/2000:13:55:36 +2400", ""],
)  # fmt: skip
def test_bad_time(stamp):
    with pytest.raises(ParseError) as e:
        parse_combined(COMBINED.replace("10/Oct/2000:13:55:36 -0700", stamp))
    assert e.value.reason == "bad_time"


@pytest.mark.parametrize(
    "line",
    ["", "hello", COMBINED.replace(" 2326 ", " 12kb "), COMBINED.replace(" 2326 ", " " + "9" * 20 + " "),
     COMBINED[: len(COMBINED) // 2], '{"remote_addr": "1.2.3.4"}'],
)  # fmt: skip
def test_no_match(line):
    with pytest.raises(ParseError) as e:
        parse_combined(line)
    assert e.value.reason == "no_match"


def test_errors_never_quote_the_line():
    secret_ip, secret_ua = "198.51.100.77", "Canary/1.0 user@example.com"
    lines = [
        f'{secret_ip} - - [99/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "{secret_ua}"',
        f'{secret_ip} - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 999 1 "-" "{secret_ua}"',
        f'{secret_ip} - - garbage "{secret_ua}"',
    ]
    for line in lines:
        with pytest.raises(ParseError) as e:
            parse_combined(line)
        assert secret_ip not in str(e.value) and "Canary" not in str(e.value)


def test_time_offsets_and_cache():
    t = parse_clf_time("01/Feb/2024:10:00:00 +0530")
    assert t.utcoffset() == timedelta(hours=5, minutes=30)
    assert t == datetime(2024, 2, 1, 4, 30, tzinfo=timezone.utc)
    assert parse_clf_time("01/Feb/2024:10:00:00 +0530") is t
    assert parse_clf_time("01/Feb/2024:10:00:00 -0000").utcoffset() == timedelta(0)
    assert parse_clf_time("1/feb/2024:10:00:00 +0000").day == 1


def test_seconds_are_still_checked_in_a_minute_already_read():
    """Times of a known minute skip the full parse: their seconds must still be valid."""
    first = parse_clf_time("11/Oct/2000:13:55:07 -0700")
    assert parse_clf_time("11/Oct/2000:13:55:59 -0700") == first + timedelta(seconds=52)
    assert parse_clf_time("11/Oct/2000:13:55:00 -0700") == first - timedelta(seconds=7)
    for bad in ("11/Oct/2000:13:55:60 -0700", "11/Oct/2000:13:55:5x -0700", "11/Oct/2000:13:55:\u0665\u0669 -0700",
                "11/Oct/2000:13:55-07 -0700", "11/Oct/2000:13:55:7 -0700"):
        with pytest.raises(ParseError) as e:
            parse_clf_time(bad)
        assert e.value.reason == "bad_time", bad


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /a HTTP/1.1", ("GET", "/a", "HTTP/1.1")),
        ("M-SEARCH * HTTP/1.1", ("M-SEARCH", "*", "HTTP/1.1")),
        ("CONNECT example.com:443 HTTP/1.1", ("CONNECT", "example.com:443", "HTTP/1.1")),
        ("GET http://example.com/x?y HTTP/1.0", ("GET", "http://example.com/x?y", "HTTP/1.0")),
        ("PROPFIND /dav/ HTTP/2", ("PROPFIND", "/dav/", "HTTP/2")),
        ("GET /", ("GET", "/", None)),  # HTTP/0.9
        ("GET /a b HTTP/1.1", ("GET", "/a b", "HTTP/1.1")),
        ("GET /a HTTP/1.1 HTTP/1.1", ("GET", "/a HTTP/1.1", "HTTP/1.1")),
        ("GET  HTTP/1.1", (None, None, None)),
        ("GET", (None, None, None)),
        ("\x16\x03\x01\x02\x00 \x01", (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_split_request_line(line, expected):
    assert split_request_line(line) == expected


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (r"a\"b", 'a"b'),
        (r"a\\b", "a\\b"),
        (r"\\x41", "\\x41"),  # an escaped backslash, then plain text
        (r"\x41\x42", "AB"),
        (r"\xC3\xA9", "é"),
        (r"\u0022\u001b", '"\x1b'),
        (r"\ud83d", "\ufffd"),  # a lone surrogate would break every later encode()
        (r"tab\there", "tab\there"),
        ("trailing\\", "trailing\\"),
        ("plain", "plain"),
        ("-", None),
        ("", None),
        (None, None),
    ],
)
def test_text_field_unescapes(raw, text):
    assert text_field(raw) == text


@pytest.mark.parametrize("parse", [parse_common, parse_combined, parse_vhost_combined])
def test_adversarial_lines_stay_linear(parse):
    # Quotes, backslashes and field-like runs an attacker can put in a URL or user agent:
    # a regex with nested ambiguity would take minutes on these instead of milliseconds.
    head = '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "'
    bodies = ['\\"' * 30000, '" 200 1 "' * 8000, '\\' * 60000, '" "' * 20000, "a " * 30000]
    start = time.perf_counter()
    for body in bodies:
        for line in (head + body, "x " + head + body + '" 200 1 "-" "' + body):
            try:
                parse(line)
            except ParseError:
                pass
    assert time.perf_counter() - start < 5
