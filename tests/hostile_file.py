"""One log file for the same-answer tests (invariant 9): the bundled sample with hostile lines mixed in.

Truncated quotes, shipper envelopes (whole, cut short, oversized, of every format), empty and blank
lines, lines over the limit and at it exactly, other formats (common, vhost_combined, JSON access
logs), garbage, TLS bytes, invalid UTF-8 and CRLF endings. Every hostile line is dated on the
sample's day, so both drivers key it under the same visitor period.
"""

from __future__ import annotations

from pathlib import Path

import orjson

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "access.log"
T = "[28/Nov/2026:10:30:00 +0000]"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _combined(ip: str, path: str, ua: str = UA, status: int = 200) -> str:
    return f'{ip} - - {T} "GET {path} HTTP/1.1" {status} 512 "https://www.example.org/" "{ua}"'


def _json_access(ip: str, path: str) -> str:
    return orjson.dumps({
        "time_iso8601": "2026-11-28T10:30:00+00:00", "remote_addr": ip, "request": f"GET {path} HTTP/1.1",
        "status": 200, "body_bytes_sent": 12, "http_referer": "-", "http_user_agent": UA,
    }).decode()  # fmt: skip


def hostile_lines(max_line: int) -> list[bytes]:
    """The hostile lines, without line ends; ``max_line`` is ``input.max_line_bytes``."""
    common = f'198.51.100.21 - - {T} "GET /plain HTTP/1.1" 200 77'
    full = _combined("198.51.100.22", "/whole")
    out = [
        # truncated quotes: a combined line cut inside its user agent, its referrer, its request
        full[:-12],
        full[: full.index('"https')] + '"https://www.exa',
        f'198.51.100.23 - - {T} "GET /cut HTTP/1.1 200 5 "-" "{UA}',
        full + ' "',
        # mixed formats
        common,
        common + " 1234",  # %D after the size
        "www.example.org:443 " + _combined("198.51.100.24", "/vhost"),
        _json_access("198.51.100.25", "/json"),
        _json_access("2001:db8:25::1", "/json-v6"),
        # shipper envelopes, of every format, whole and broken
        orjson.dumps({"message": _combined("198.51.100.26", "/filebeat"), "host": {"name": "web-1"}}).decode(),
        orjson.dumps({"log": _combined("198.51.100.27", "/fluent-bit") + "\n", "stream": "stdout"}).decode(),
        orjson.dumps({"message": common}).decode(),
        orjson.dumps({"message": _json_access("198.51.100.28", "/wrapped-json")}).decode(),
        orjson.dumps({"message": full[:-12]}).decode(),  # a truncated line, wrapped
        orjson.dumps({"message": ""}).decode(),
        orjson.dumps({"message": 42}).decode(),
        '{"message": "cut short',
        # empty and blank
        "", "   ", "\t", "\r",
        # garbage
        "not a log line",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        _combined("198.51.100.29", "/crlf") + "\r",
        _combined("198.51.100.30", '/a"quote', ua='Evil "quoted" agent'),
        _combined("198.51.100.31", "/bad-status", status=999),
        _combined("198.51.100.32", "/bad-time").replace("28/Nov/2026", "31/Feb/2026"),
    ]
    lines = [x.encode() for x in out]
    lines.append(_combined("198.51.100.33", "/bytes").encode().replace(b"/bytes", b"/\xff\xfe-invalid-utf8"))
    # over-long: far over the limit, one byte over, exactly at it
    for size in (max_line + 5000, max_line + 1, max_line):
        line = _combined("198.51.100.34", "/long?q=")
        line = line.replace("q=", "q=" + "x" * (size - len(line)))
        assert len(line) == size
        lines.append(line.encode())
    # an envelope over the limit whose line is under it (escapes shrink when opened)
    escaped = orjson.dumps({"message": _combined("198.51.100.35", "/é" * (max_line // 5))}).replace(
        "é".encode(), b"\\u00e9"
    )  # fmt: skip
    assert len(escaped) > max_line
    lines.append(escaped)
    return lines


def write_hostile_file(path: Path, max_line: int) -> list[bytes]:
    """The sample with the hostile lines spread through it; returns the lines as written (no ends)."""
    sample = SAMPLE.read_bytes().splitlines()
    hostile = hostile_lines(max_line)
    step = len(sample) // (len(hostile) + 1)
    lines: list[bytes] = []
    for i, line in enumerate(sample):
        lines.append(line)
        if i % step == step - 1 and hostile:
            lines.append(hostile.pop(0))
    lines += hostile
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return lines
