"""make_parser: one entry point from a configured format name."""

from __future__ import annotations

import pytest

from logscrub.parsing.record import ParseError

from logscrub.parsing.formats import FORMATS, REASONS, detect_format, make_parser

LINES = {
    "common": '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 10',
    "combined": '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 10 "-" "UA"',
    "vhost_combined": 'a.example:80 192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 10 "-" "UA"',
    "json": '{"time_iso8601": "2000-10-10T13:55:36-07:00", "remote_addr": "192.0.2.1", "status": 200}',
    "nginx": "192.0.2.1 2000-10-10T13:55:36-07:00 200",
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_name_gives_a_working_parser(fmt):
    parser = make_parser(fmt, nginx_log_format="$remote_addr $time_iso8601 $status")
    r = parser(LINES[fmt])
    assert (r.client, r.status) == ("192.0.2.1", 200)
    assert r.time.utcoffset() is not None


def test_detected_formats_are_valid_names():
    for fmt in ("common", "combined", "vhost_combined", "json"):
        detected = detect_format([LINES[fmt]])
        assert detected == fmt
        make_parser(detected)


def test_options_reach_their_parser_and_are_ignored_by_others():
    parser = make_parser("json", json_fields={"client": "ip"})
    assert parser('{"msec": "1.5", "ip": "2001:db8::9"}').client == "2001:db8::9"
    assert make_parser("combined", nginx_log_format="$status", json_fields={"client": "ip"})(LINES["combined"])


@pytest.mark.parametrize(
    ("fmt", "kwargs", "message"),
    [
        ("apache", {}, "unknown log format 'apache'"),
        ("nginx", {}, "needs nginx_log_format"),
        ("nginx", {"nginx_log_format": "$status"}, "time variable"),
        ("json", {"json_fields": {"nope": "x"}}, "unknown field"),
    ],
)
def test_bad_configuration_raises_value_error(fmt, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_parser(fmt, **kwargs)


def test_auto_parses_each_line_in_its_own_format():
    """A topic fed by Apache, nginx and JSON hosts at once."""
    parse = make_parser("auto")
    for fmt in ("combined", "vhost_combined", "common"):
        assert parse(LINES[fmt]).status is not None, fmt
    assert parse('{"msec": "1.5", "remote_addr": "192.0.2.1", "status": "200"}').status == 200
    with pytest.raises(ParseError) as e:
        parse("not a log line")
    assert e.value.reason == "no_match"


def test_reasons_are_short_snake_case_labels():
    assert len(set(REASONS)) == len(REASONS)
    for reason in REASONS:
        assert reason.isascii() and reason.replace("_", "").isalpha() and reason.islower()
