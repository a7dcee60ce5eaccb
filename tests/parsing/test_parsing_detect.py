"""Guessing the format from the first lines of a log."""

from __future__ import annotations

import orjson

from logscrub.parsing.detect import SAMPLE_LINES, detect_format

COMMON = '192.0.2.{i} - - [10/Oct/2000:13:55:{s:02d} -0700] "GET /{i} HTTP/1.1" 200 {i}'
COMBINED = COMMON + ' "-" "Mozilla/5.0"'
VHOST = "www.example.com:443 " + COMBINED
JSON = orjson.dumps({"time_iso8601": "2024-01-01T00:00:00+00:00", "remote_addr": "192.0.2.1", "status": 200}).decode()


def lines(template: str, n: int = 20) -> list[str]:
    return [template.format(i=i, s=i % 60) for i in range(n)]


def test_each_format_is_recognized():
    assert detect_format(lines(COMMON)) == "common"
    assert detect_format(lines(COMBINED)) == "combined"
    assert detect_format(lines(VHOST)) == "vhost_combined"
    assert detect_format([JSON] * 5) == "json"


def test_combined_wins_the_tie_with_common():
    # Every combined line is also a common line with a trailing field.
    assert detect_format(lines(COMBINED, 3)) == "combined"


def test_majority_wins_over_noise():
    assert detect_format(lines(COMBINED, 6) + ["garbage", "\x16\x03\x01", JSON, JSON]) == "combined"
    assert detect_format([JSON] * 3 + lines(COMMON, 2)) == "json"


def test_mixed_common_and_combined_is_common():
    # common reads every line (combined's extra fields are trailing); combined would reject some.
    assert detect_format(lines(COMBINED, 6) + lines(COMMON, 4)) == "common"


def test_nothing_parses_gives_combined():
    assert detect_format([]) == "combined"
    assert detect_format(["hello", "world", "{not json"]) == "combined"


def test_blank_lines_are_skipped_and_only_the_sample_counts():
    blanks = ["", "  ", "\r\n"] * 30
    assert detect_format(blanks + lines(COMMON, 2)) == "common"
    # Blank lines do not use up the sample: 50 common lines, then json that is never looked at.
    sample = blanks + lines(COMMON, SAMPLE_LINES) + [JSON] * (SAMPLE_LINES + 10)
    assert detect_format(sample) == "common"
