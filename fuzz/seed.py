"""Seed fuzz/corpus from the corpora the differential tests use (run once; the fuzzers grow it).

Each seed is a format selector byte (as the harnesses read it) and a line: generated log lines,
the canary lines, JSON lines of each dialect, nginx lines, and short hostile shapes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import canaries  # noqa: E402
from bench import visitors  # noqa: E402
from bench.sample import generate  # noqa: E402

T = "28/Nov/2026:10:00:00 +0000"
JSON = [
    {"remote_addr": "203.0.113.9", "time_iso8601": "2026-11-28T10:00:00+00:00", "request": "GET /a?q=1 HTTP/1.1",
     "status": "200", "body_bytes_sent": "5", "http_user_agent": "Mozilla/5.0", "request_time": "0.012"},
    {"request": {"client_ip": "2001:db8::1", "method": "GET", "uri": "/users/jdoe", "proto": "HTTP/2.0",
                 "headers": {"User-Agent": ["curl/8.0"], "Referer": ["https://e.example/"]}}, "ts": 1764324000.5,
     "status": 404, "size": 0, "duration": 0.1},
    {"ClientHost": "198.51.100.7", "StartUTC": "2026-11-28T10:00:00.123456789Z", "RequestMethod": "GET",
     "RequestPath": "/u/x/profile", "DownstreamStatus": 200, "DownstreamContentSize": 10, "Duration": 1500000},
]
NGINX = f'203.0.113.9 [{T}] "GET /p/1?q=a%40b.c HTTP/1.1" 200 5 "Mozilla/5.0" 0.003'
HOSTILE = [f'203.0.113.9 - - [{T}] "GET /' + '\\"' * 50 + ' HTTP/1.1" 200 5 "-" "x"',
           f'203.0.113.9 - - [{T}] "\\x16\\x03\\x01" 400 0 "-" "-"', "\x00" * 40, f'[::1]:80 - - [{T}] "-" 400 0']


def main() -> int:
    out = ROOT / "fuzz" / "corpus"
    out.mkdir(exist_ok=True)
    seeds: list[tuple[int, str]] = []
    seeds += [(1, line) for line in generate(300, seed=11)]
    seeds += [(1, line) for line in visitors.generate(days=1, visitors_per_day=20, seed=4).lines[:200]]
    seeds += [(0, line) for line in canaries.combined_lines() + canaries.class_lines()[0][::5]]
    seeds += [(2, json.dumps(obj)) for obj in JSON] + [(2, line) for line in canaries.json_lines()]
    seeds += [(3, NGINX)] + [(fmt, line) for line in HOSTILE for fmt in range(4)]
    for fmt, line in seeds:
        data = bytes([fmt]) + line.encode("utf-8", "surrogatepass")
        (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
    print(f"{len(seeds)} seeds in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
