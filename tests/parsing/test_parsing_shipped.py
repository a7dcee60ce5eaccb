"""unwrap: the one rule by which every driver turns a file line or a record value into the core's line."""

from __future__ import annotations

import orjson
import pytest

from logscrub.parsing.shipped import unwrap

LINE = '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 10 "-" "UA"'
MAX = 1024


@pytest.mark.parametrize(
    "record",
    [
        orjson.dumps({"message": LINE}),
        orjson.dumps({"@timestamp": "2026-11-28T10:00:00Z", "host": {"name": "web-1"}, "message": LINE}),  # Filebeat
        orjson.dumps({"log": LINE, "stream": "stdout", "time": "2026-11-28T10:00:00Z"}),  # Fluent Bit tail
        orjson.dumps({"message": LINE}) + b"\n",  # as a line of a file
    ],
)
def test_shipper_envelopes_are_opened(record):
    assert unwrap(record, MAX) == LINE.encode()


@pytest.mark.parametrize(
    "record",
    [
        b'{"remote_addr": "192.0.2.1", "status": 200}',  # a JSON access log is not an envelope
        b'{"message": 5}',  # not a string: not an envelope either
        b'{"message": "cut short',
        b"[1, 2]",
        b"not json at all",
    ],
)
def test_other_records_stay_as_they_are(record):
    assert unwrap(record, MAX) == record
    assert unwrap(record + b"\n", MAX) == record


def test_a_file_line_loses_its_newline_only():
    assert unwrap(LINE.encode() + b"\n", MAX) == LINE.encode()
    assert unwrap(LINE.encode() + b"\r\n", MAX) == LINE.encode() + b"\r"  # as `logscrub ship` sends it
    assert unwrap(b"\n", MAX) == b""
    assert unwrap(b"", MAX) == unwrap(None, MAX) == b""


def test_a_record_longer_than_the_limit_is_not_opened_whatever_it_wraps():
    """`logscrub ship` cuts a line at max_line_bytes + 1: whether such an envelope is opened must not
    depend on whether it arrived whole (through `scrub`) or cut (through the shipper)."""
    inner = "é" * 300  # escaped as \\u00e9 six bytes each, two bytes of UTF-8 once opened
    record = orjson.dumps({"message": inner}).replace("é".encode(), b"\\u00e9")
    assert len(inner.encode()) <= MAX < len(record)
    assert unwrap(record, MAX) == record
    assert unwrap(record, len(record)) == inner.encode()


def test_a_text_line_is_keyed_by_its_client_address():
    """logscrub ship's record key: a client's lines reach one partition (one worker, in order)."""
    from logscrub.parsing.shipped import client_key

    assert client_key(b'203.0.113.9 - - [28/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5') == b"203.0.113.9"
    assert client_key(b"www.example.com:443 2001:db8::1 - - [28/Nov/2026:10:00:00 +0000] ...") == b"2001:db8::1"
    assert client_key(b'{"remote_addr": "203.0.113.9"}') is None  # JSON: round robin
    assert client_key(b"garbage line") is None and client_key(b"") is None
