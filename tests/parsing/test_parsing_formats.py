"""make_parser: one entry point from a configured format name."""

from __future__ import annotations

import pytest

from logscrub.parsing.record import ParseError

from logscrub.parsing.formats import FORMATS, REASONS, make_parser

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
    assert parse(LINES["combined"]).user_agent == "UA"
    assert parse(LINES["vhost_combined"]).host == "a.example"
    assert parse('{"msec": "1.5", "remote_addr": "192.0.2.1", "status": "200"}').status == 200
    with pytest.raises(ParseError) as e:
        parse("not a log line")
    assert e.value.reason == "no_match"


COMMON = LINES["common"]
TRUNCATED = [  # combined lines cut short: each has a quote after the size that is never closed
    COMMON + ' "-" "Mozilla/5.0 (X11; Linux x86_64',
    COMMON + ' "-" "',
    COMMON + ' "https://example.com/',
    COMMON + ' "',
]


@pytest.mark.parametrize("line", TRUNCATED)
def test_auto_rejects_a_combined_line_cut_short_instead_of_reading_it_as_common(line):
    """Read as common, such a line would lose its user agent and count as a request without one."""
    for previous in ("common", "combined", "vhost_combined"):  # whatever the line before it was
        parse = make_parser("auto")
        parse(LINES[previous])
        with pytest.raises(ParseError) as e:
            parse(line)
        assert e.value.reason == "no_match"
    assert make_parser("common")(line).user_agent is None  # an explicit common format still ignores the tail


def test_auto_keeps_common_lines_with_unquoted_extra_fields():
    assert make_parser("auto")(COMMON + " 1234 0.003").status == 200  # %D, %T


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (COMMON.replace(" 200 ", " 999 "), "bad_status"),
        (LINES["combined"].replace(" 200 ", " 999 "), "bad_status"),
        (LINES["vhost_combined"].replace(" 200 ", " 999 "), "bad_status"),
        (COMMON.replace("10/Oct/2000", "10/Foo/2000"), "bad_time"),
        (LINES["combined"].replace("10/Oct/2000", "99/Oct/2000"), "bad_time"),
        ('{"remote_addr": "192.0.2.1"}', "missing_field"),
        ("{not json", "bad_json"),
        ("garbage", "no_match"),
    ],
)
def test_auto_gives_a_line_the_reason_of_the_format_whose_shape_it_has(line, reason):
    """The same reason whatever line came before (auto tries the last line's format first) and the
    same one the format itself gives."""
    for previous in ("common", "combined", "vhost_combined", "json"):
        parse = make_parser("auto")
        parse(LINES[previous])
        with pytest.raises(ParseError) as e:
            parse(line)
        assert e.value.reason == reason, previous


def test_auto_gives_each_line_the_same_answer_in_any_order():
    lines = [*LINES.values(), *TRUNCATED, COMMON + " 12", "x", ""]
    lines.remove(LINES["nginx"])

    def answers(order: list[str]) -> dict[str, object]:
        parse, out = make_parser("auto"), {}
        for line in order:
            try:
                out[line] = parse(line)
            except ParseError as e:
                out[line] = e.reason
        return out

    first = answers(lines)
    assert answers(lines[::-1]) == first
    assert answers(lines[1::2] + lines[::2]) == first


def test_reasons_are_short_snake_case_labels():
    assert len(set(REASONS)) == len(REASONS)
    for reason in REASONS:
        assert reason.isascii() and reason.replace("_", "").isalpha() and reason.islower()
