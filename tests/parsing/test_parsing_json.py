"""JSON access logs: Caddy, Traefik, nginx escape=json, and layouts mapped by config."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from logscrub.parsing.jsonlines import make_json_parser
from logscrub.parsing.record import ParseError

parse = make_json_parser()

CADDY: dict[str, Any] = {
    "level": "info",
    "ts": 1700000000.123456,
    "logger": "http.log.access.log0",
    "msg": "handled request",
    "request": {
        "remote_ip": "10.0.0.9",
        "remote_port": "51234",
        "client_ip": "2001:db8::7",
        "proto": "HTTP/2.0",
        "method": "GET",
        "host": "example.com",
        "uri": "/search?q=secret",
        "headers": {
            "User-Agent": ["Mozilla/5.0 (X11; Linux x86_64)"],
            "Referer": ["https://www.google.com/"],
            "X-Forwarded-For": ["203.0.113.1", "10.0.0.9"],
        },
        "tls": {"resumed": False, "version": 772},
    },
    "bytes_read": 0,
    "user_id": "",
    "duration": 0.000929,
    "size": 1234,
    "status": 200,
    "resp_headers": {"Server": ["Caddy"]},
}
TRAEFIK = {
    "ClientAddr": "192.0.2.10:54321",
    "ClientHost": "192.0.2.10",
    "ClientUsername": "-",
    "DownstreamContentSize": 512,
    "DownstreamStatus": 404,
    "Duration": 1234567,
    "OriginStatus": 404,
    "RequestHost": "example.org",
    "RequestMethod": "GET",
    "RequestPath": "/missing?id=7",
    "RequestProtocol": "HTTP/1.1",
    "RouterName": "web@docker",
    "StartLocal": "2024-03-01T12:00:00.123456789+01:00",
    "StartUTC": "2024-03-01T11:00:00.123456789Z",
    "level": "info",
    "time": "2024-03-01T12:00:00+01:00",
    "request_User-Agent": "curl/8.5.0",
}
NGINX = {
    "time_local": "01/Mar/2024:12:00:00 +0100",
    "remote_addr": "198.51.100.4",
    "remote_user": "",
    "request": "POST /login HTTP/1.1",
    "status": "302",
    "body_bytes_sent": "0",
    "http_referer": "",
    "http_user_agent": "Mozilla/5.0",
    "http_x_forwarded_for": "",
    "request_time": "0.012",
}


def line(obj: object) -> str:
    return orjson.dumps(obj).decode()


def test_caddy():
    r = parse(line(CADDY))
    assert r.client == "2001:db8::7"  # client_ip (trusted-proxy aware) before the peer
    assert r.time == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=timezone.utc)
    assert (r.method, r.target, r.protocol, r.host) == ("GET", "/search?q=secret", "HTTP/2.0", "example.com")
    assert (r.status, r.bytes, r.duration) == (200, 1234, 0.000929)
    assert (r.user_agent, r.referrer) == ("Mozilla/5.0 (X11; Linux x86_64)", "https://www.google.com/")
    assert r.forwarded_for == "203.0.113.1, 10.0.0.9"  # repeated headers combine as HTTP does
    assert r.user is None


def test_caddy_before_client_ip_existed():
    old = {**CADDY, "request": {k: v for k, v in CADDY["request"].items() if k != "client_ip"}}
    assert parse(line(old)).client == "10.0.0.9"


def test_traefik():
    r = parse(line(TRAEFIK))
    assert r.client == "192.0.2.10"
    assert r.time == datetime(2024, 3, 1, 11, 0, 0, 123456, tzinfo=timezone.utc)
    assert (r.method, r.target, r.protocol, r.host) == ("GET", "/missing?id=7", "HTTP/1.1", "example.org")
    assert (r.status, r.bytes, r.user, r.user_agent) == (404, 512, None, "curl/8.5.0")
    assert r.duration == pytest.approx(0.001234567)  # Traefik logs nanoseconds


def test_nginx_escape_json_with_variable_names():
    r = parse(line(NGINX))
    assert r.time == datetime(2024, 3, 1, 11, tzinfo=timezone.utc)
    assert (r.client, r.method, r.target, r.protocol) == ("198.51.100.4", "POST", "/login", "HTTP/1.1")
    assert (r.status, r.bytes, r.duration) == (302, 0, pytest.approx(0.012))
    assert (r.user, r.referrer, r.forwarded_for) == (None, None, None)


def test_nginx_escape_json_escapes_are_read():
    raw = '{"msec":"1700000000.500","request":"GET /\\u0022x\\u0022 HTTP/1.1","status":200,"http_user_agent":"a\\"b"}'
    r = parse(raw + "\r\n")
    assert (r.target, r.user_agent) == ('/"x"', 'a"b')
    assert r.time == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=timezone.utc)


def test_garbage_request_line_counts():
    r = parse(line({**NGINX, "request": "\x16\x03\x01\x00", "status": 400}))
    assert (r.method, r.target, r.protocol, r.status) == (None, None, None, 400)


def test_json_fields_map_a_custom_layout():
    custom = make_json_parser(
        {"client": "peer.ip", "time": "when", "target": "http.path", "status": "http.code", "user_agent": "ua"}
    )
    obj = {"peer": {"ip": "192.0.2.44"}, "when": "2024-05-05T05:05:05-05:00", "http": {"path": "/x", "code": 201}}
    r = custom(line({**obj, "ua": "Bot/2"}))
    assert (r.client, r.target, r.status, r.user_agent) == ("192.0.2.44", "/x", 201, "Bot/2")
    assert r.time.utcoffset() == timedelta(hours=-5)


def test_json_fields_override_the_defaults_of_one_field():
    custom = make_json_parser({"client": "request.headers.X-Real-Ip"})
    caddy = {**CADDY, "request": {**CADDY["request"], "headers": {"X-Real-Ip": ["198.51.100.200"]}}}
    r = custom(line(caddy))
    assert r.client == "198.51.100.200"
    assert r.target == "/search?q=secret"


def test_specific_fields_win_over_the_request_line():
    r = parse(line({**NGINX, "request_uri": "/login?next=%2F"}))
    assert (r.method, r.target, r.protocol) == ("POST", "/login?next=%2F", "HTTP/1.1")


def test_json_fields_request_line_and_nanoseconds():
    custom = make_json_parser({"request": "line", "duration_ns": "took", "time": "t"})
    r = custom(line({"t": 1700000000, "line": "HEAD /h HTTP/1.0", "took": 2_500_000_000}))
    assert (r.method, r.target, r.protocol, r.duration) == ("HEAD", "/h", "HTTP/1.0", 2.5)


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"ip": "x"}, "unknown field 'ip'"), ({"client": ""}, "dotted path"), ({"client": 3}, "dotted path")],
)
def test_bad_json_fields(fields, message):
    with pytest.raises(ValueError, match=message):
        make_json_parser(fields)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "bad_json"),
        ('{"ts": 1', "bad_json"),
        ("[1, 2]", "bad_json"),
        ('"a string"', "bad_json"),
        ("", "bad_json"),
        ('{"status": 200}', "missing_field"),
        ('{"ts": null, "status": 200}', "missing_field"),
        ('{"msec": true}', "bad_time"),
        ('{"msec": 1e300}', "bad_time"),
        ('{"time_iso8601": "2024-01-01T00:00:00"}', "bad_time"),
        ('{"time_iso8601": "tomorrow"}', "bad_time"),
        ('{"time_iso8601": ""}', "bad_time"),
        ('{"time_local": "01/Mar/2024:25:00:00 +0100"}', "bad_time"),
        ('{"ts": {"a": 1}, "request": {}}', "bad_time"),
        ('{"msec": 1, "status": 99}', "bad_status"),
        ('{"msec": 1, "status": "20x"}', "bad_status"),
        ('{"msec": 1, "status": 200.0}', "bad_status"),
        ('{"msec": 1, "status": true}', "bad_status"),
        ('{"msec": 1, "body_bytes_sent": -1}', "bad_field"),
        ('{"msec": 1, "body_bytes_sent": "big"}', "bad_field"),
        ('{"ts": 1, "request": {}, "size": 1.5}', "bad_field"),
        ('{"msec": 1, "request_time": "slow"}', "bad_field"),
        ('{"ts": 1, "request": {}, "duration": -0.5}', "bad_field"),
        ('{"StartUTC": "2024-03-01T11:00:00Z", "DownstreamStatus": 200, "Duration": "x"}', "bad_field"),
    ],
)
def test_rejections(text, reason):
    with pytest.raises(ParseError) as e:
        parse(text)
    assert e.value.reason == reason


def test_odd_types_in_text_fields_are_absent_not_errors():
    r = parse(line({"msec": 1, "remote_addr": {"v": 4}, "http_user_agent": True, "host": 42, "request": ["GET"]}))
    assert (r.client, r.user_agent, r.host, r.method) == (None, None, "42", None)


def test_errors_never_quote_the_line():
    with pytest.raises(ParseError) as e:
        parse('{"remote_addr": "198.51.100.77", "http_user_agent": "Canary/1.0"')
    assert "198.51.100.77" not in str(e.value) and "Canary" not in str(e.value)
