"""nginx log_format strings compiled to parsers."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from logscrub.parsing.clf import parse_combined
from logscrub.parsing.nginx_format import compile_log_format, read_log_format
from logscrub.parsing.record import ParseError

NGINX_COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
)
MAIN = """
    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for" $request_time';
"""
JSON_DIRECTIVE = """log_format json_combined escape=json
  '{'
    '"time":"$time_iso8601",'
    '"remote_addr":"$remote_addr",'
    '"remote_user":"$remote_user",'
    '"request":"$request",'
    '"status": $status,'
    '"body_bytes_sent":$body_bytes_sent,'
    '"request_time":$request_time,'
    '"http_referrer":"$http_referer",'
    '"http_user_agent":"$http_user_agent"'
  '}';"""


def test_read_directive_concatenates_pieces():
    template, escape = read_log_format(MAIN)
    assert template == (
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
        '"$http_user_agent" "$http_x_forwarded_for" $request_time'
    )
    assert escape == "default"


def test_read_directive_with_escape_comments_and_conf_escapes():
    spec = """log_format x escape=json  # the JSON one
        "{\\"a\\":\\"$remote_addr\\"}" # trailing comment
        ;"""
    assert read_log_format(spec) == ('{"a":"$remote_addr"}', "json")
    assert read_log_format("log_format y 'it\\'s $status';") == ("it's $status", "default")
    assert read_log_format("log_format z $remote_addr;") == ("$remote_addr", "default")


def test_bare_format_is_used_as_is():
    assert read_log_format(NGINX_COMBINED + "\n") == (NGINX_COMBINED, "default")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("log_format main '$remote_addr", "unbalanced"),
        ("log_format main '$remote_addr'; log_format b '$status';", "after ';'"),
        ("log_format main;", "name and at least one"),
        ("log_format main escape=xml '$time_local';", "escape"),
        ("$remote_addr $status", "time variable"),
    ],
)
def test_bad_specs_raise_value_error(spec, message):
    with pytest.raises(ValueError, match=message):
        compile_log_format(spec)


def test_nginx_combined_agrees_with_the_combined_parser():
    parse = compile_log_format(NGINX_COMBINED)
    lines = [
        '203.0.113.7 - frank [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.1" 200 2326 "http://r/" "UA/1.0"',
        '2001:db8::1 - - [10/Oct/2000:13:55:36 +0000] "\\x16\\x03\\x01\\x00" 400 157 "-" "-"',
        '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /caf\\xC3\\xA9 HTTP/1.1" 200 1 "-" "q\\x22uote"',
    ]
    for line in lines:
        assert parse(line) == parse_combined(line)


def test_main_with_forwarded_for_and_request_time():
    parse = compile_log_format(MAIN)
    line = (
        '10.1.2.3 - - [29/Nov/2024:06:12:01 +0100] "POST /api/login HTTP/2.0" 302 0 "-" '
        '"okhttp/4.12.0" "203.0.113.50, 10.1.2.3" 0.012\r\n'
    )
    r = parse(line)
    assert (r.client, r.method, r.target, r.status, r.bytes) == ("10.1.2.3", "POST", "/api/login", 302, 0)
    assert r.forwarded_for == "203.0.113.50, 10.1.2.3"
    assert r.duration == pytest.approx(0.012)
    assert r.time == datetime(2024, 11, 29, 5, 12, 1, tzinfo=timezone.utc)
    assert r.referrer is None


def test_escape_json_template():
    parse = compile_log_format(JSON_DIRECTIVE)
    line = (
        '{"time":"2024-03-01T12:00:00+01:00","remote_addr":"2001:db8::2","remote_user":"",'
        '"request":"GET /q?s=\\"x\\" HTTP/1.1","status": 200,"body_bytes_sent":512,"request_time":0.003,'
        '"http_referrer":"","http_user_agent":"Evil \\"UA\\" \\u001b[31m\\\\"}'
    )
    r = parse(line)
    assert r.time == datetime(2024, 3, 1, 11, tzinfo=timezone.utc)
    assert r.target == '/q?s="x"'
    assert r.user_agent == 'Evil "UA" \x1b[31m\\'
    assert (r.user, r.referrer) == (None, None)  # escape=json logs empty values as ""
    assert (r.status, r.bytes, r.duration) == (200, 512, pytest.approx(0.003))


def test_msec_braces_and_opaque_variables():
    parse = compile_log_format('${msec} $upstream_addr "$host" $ssl_protocol/$ssl_cipher "${request}" ${status}')
    r = parse('1700000000.250 10.0.0.5:8080 "shop.example" TLSv1.3/TLS_AES_128_GCM_SHA256 "GET / HTTP/1.1" 204')
    assert r.time == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=timezone.utc)
    assert (r.host, r.status, r.target) == ("shop.example", 204, "/")
    assert r.client is None


def test_separate_request_variables_and_uri_args():
    parse = compile_log_format("$time_iso8601 $request_method $request_uri $server_protocol $status")
    r = parse("2024-01-01T00:00:00+00:00 DELETE /items/7?force=1 HTTP/1.1 204")
    assert (r.method, r.target, r.protocol) == ("DELETE", "/items/7?force=1", "HTTP/1.1")
    parse = compile_log_format("$time_iso8601 $uri $args $status")
    assert parse("2024-01-01T00:00:00+00:00 /a q=1 200").target == "/a?q=1"
    assert parse("2024-01-01T00:00:00+00:00 /a - 200").target == "/a"


def test_request_uri_wins_over_request_which_fills_the_rest():
    parse = compile_log_format('$time_iso8601 "$request" $request_uri $status')
    r = parse('2024-01-01T00:00:00+00:00 "GET /from-request HTTP/1.1" /from-uri 200')
    assert (r.method, r.target, r.protocol) == ("GET", "/from-uri", "HTTP/1.1")


def test_host_beats_server_name_and_body_bytes_beat_bytes_sent():
    parse = compile_log_format("[$time_local] $server_name $host $bytes_sent $body_bytes_sent $status")
    r = parse("[10/Oct/2000:13:55:36 -0700] default_server www.example.com 900 700 200")
    assert (r.host, r.bytes) == ("www.example.com", 700)


def test_time_local_without_brackets():
    parse = compile_log_format("$time_local $status $remote_addr")
    r = parse("10/Oct/2000:13:55:36 -0700 200 192.0.2.9")
    assert r.time.utcoffset() == timedelta(hours=-7)
    assert (r.status, r.client) == (200, "192.0.2.9")


def test_escape_none_keeps_backslashes():
    parse = compile_log_format("log_format raw escape=none '$time_iso8601 \"$http_user_agent\"';")
    assert parse('2024-01-01T00:00:00Z "C:\\x41\\"').user_agent == "C:\\x41\\"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('1.2.3.4 [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200', "no_match"),
        ('1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 20x 1 "-" "-" "-" 0.1', "bad_status"),
        ('1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 lots "-" "-" "-" 0.1', "bad_field"),
        ('1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "-" "-" soon', "bad_field"),
        ('1.2.3.4 - - [10/Xyz/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "-" "-" 0.1', "bad_time"),
    ],
)
def test_rejections(line, reason):
    with pytest.raises(ParseError) as e:
        compile_log_format(MAIN)(line)
    assert e.value.reason == reason
    assert "1.2.3.4" not in str(e.value)


@pytest.mark.parametrize(
    ("template", "line"),
    [
        ("$time_iso8601 $status", "2024-01-01T00:00:00 200"),  # no zone: we would have to guess
        ("$time_iso8601 $status", "yesterday 200"),
        ("$msec $status", "1e9 200"),
        ("$msec $status", "99999999999999999.5 200"),
    ],
)
def test_bad_times(template, line):
    with pytest.raises(ParseError) as e:
        compile_log_format(template)(line)
    assert e.value.reason == "bad_time"


@pytest.mark.parametrize("spec", [MAIN, JSON_DIRECTIVE, "$time_iso8601 $remote_addr$http_user_agent $status"])
def test_adversarial_lines_stay_linear(spec):
    parse = compile_log_format(spec)
    head = '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "'
    bodies = ['\\"' * 30000, '" 200 1 "' * 8000, "\\" * 60000, '" "' * 20000, "a " * 30000, '","' * 20000]
    start = time.perf_counter()
    for body in bodies:
        for line in (head + body, head + body + '" 200 1 "-" "' + body, '{"time":"' + body):
            try:
                parse(line)
            except ParseError:
                pass
    assert time.perf_counter() - start < 5
