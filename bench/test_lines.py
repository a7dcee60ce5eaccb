"""Generated inputs: the distinct-visitor log must really be distinct visitors in one day, and parse."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import data
from bench.lines import clf_time, distinct_client, rewrite
from logscrub.parsing.formats import make_parser

LINE = ('198.51.100.7 - - [28/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "Mozilla/5.0 (X11)"')


def test_distinct_clients_are_distinct_addresses_over_many_networks() -> None:
    clients = [distinct_client(i) for i in range(100_000)]
    ips = [ipaddress.ip_address(c) for c in clients]
    assert len(set(ips)) == len(ips)
    assert sum(ip.version == 6 for ip in ips) == 15_000
    v4_networks = {ipaddress.ip_network(f"{ip}/24", strict=False) for ip in ips if ip.version == 4}
    assert len(v4_networks) > 30_000  # scattered, not 256 neighbours per /24


def test_rewrite_replaces_client_and_time_and_the_line_still_parses() -> None:
    stamp = clf_time(datetime(2026, 11, 28, 23, 59, 58, tzinfo=UTC).timestamp())
    req = make_parser("combined")(rewrite(LINE, "2001:db8:1:2::1", stamp))
    assert req.client == "2001:db8:1:2::1"
    assert req.time == datetime(2026, 11, 28, 23, 59, 58, tzinfo=UTC)
    assert req.target == "/a" and req.user_agent == "Mozilla/5.0 (X11)"


def test_rewrite_leaves_what_it_is_not_given() -> None:
    assert rewrite(LINE) == LINE
    assert rewrite(LINE, stamp="01/Dec/2026:00:00:00 +0000").startswith("198.51.100.7 - - [01/Dec/2026:00:00:00")


def test_visitors_log_is_one_client_per_line_within_one_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "DATA", tmp_path)
    parse = make_parser("combined")
    parsed = []
    for line in data.visitors_log(2_000, seed=7).read_text().splitlines():
        try:
            parsed.append(parse(line))
        except ValueError:  # the generator's deliberately truncated lines
            continue
    assert len(parsed) > 1_900
    assert len({r.client for r in parsed}) == len(parsed)
    times = [r.time for r in parsed]
    assert times == sorted(times)
    assert (times[-1] - times[0]).total_seconds() < 86_400
    assert {t.date() for t in times} == {datetime(2026, 11, 28).date()}


def test_a_shorter_combined_log_is_a_prefix_of_a_longer_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The end-to-end runs read a shorter log than the scrub runs: they must be the same lines.
    monkeypatch.setattr(data, "DATA", tmp_path)
    monkeypatch.setattr(data, "CHUNK", 500)
    short = data.combined_log(1_000, seed=3).read_text()
    long = data.combined_log(1_500, seed=3).read_text()
    assert long.startswith(short) and len(long.splitlines()) == 1_500


def test_the_combined_log_clock_runs_on_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A clock restarting every chunk would re-open emitted windows: aggregation work no real log causes.
    monkeypatch.setattr(data, "DATA", tmp_path)
    monkeypatch.setattr(data, "CHUNK", 500)
    times = [_parsed_time(line) for line in data.combined_log(1_500, seed=3).read_text().splitlines()]
    assert times == sorted(times)


def _parsed_time(line: str) -> datetime:
    return datetime.strptime(line[line.index("[") + 1:line.index("]")], "%d/%b/%Y:%H:%M:%S %z")
