"""`logscrub report` (issue 11 item 6): the measures, pure, on records built by hand; and the command on
real `scrub` output, each figure recomputed here from the files in the plainest way."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

import canaries
from logscrub.cli.main import main
from logscrub.config import load
from logscrub.outputs.report import CLIENT_FIELDS, Measure, render
from logscrub.run.scrub_files import scrub

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "access.log"

EVENT = {
    "schema": "logscrub.event/2", "id": "0" * 20, "time": "2026-11-28T10:00:00Z", "site": "default",
    "method": "GET", "path": "/", "protocol": "HTTP/1.1", "status": 200, "status_class": "2xx", "bytes": 5,
    "browser": "Firefox", "browser_major": "128", "os": "Windows", "os_major": "10", "device": "desktop",
    "bot": False, "country": None, "asn": None, "as_org": None, "referrer_domain": None, "referrer_class": "none",
}  # fmt: skip


def ev(n: int, **fields: Any) -> dict[str, Any]:
    return EVENT | {"id": f"{n:020x}"} | fields


def tr(n: int, span: str = "1m", dimension: str = "path", value: str = "/", **fields: Any) -> dict[str, Any]:
    return {"schema": "logscrub.traffic/2", "id": f"{n:020x}", "window_start": "2026-11-28T10:00:00Z",
            "window_end": "2026-11-28T10:01:00Z", "span": span, "site": "default", "dimension": dimension,
            "value": value, "visitors": 5} | fields  # fmt: skip


def measured(events: list[Any] = (), traffic: list[Any] = ()):  # type: ignore[assignment]
    m = Measure()
    for e in events:
        m.event(e)
    for t in traffic:
        m.traffic(t)
    return m.report()


# --- The measures ---------------------------------------------------------------------------------


def test_groups_per_day_by_the_client_fields_and_the_smallest() -> None:
    r = measured([
        ev(1), ev(2), ev(3, path="/b"),  # one group: the path is the request's, not the client's
        ev(4, browser_major="127"), ev(5, browser_major="127"),
        ev(6, country="DE"),
        ev(7, time="2026-11-29T00:00:00Z"),  # another day, another group
    ])  # fmt: skip
    assert [(d.day, d.events, d.groups, d.smallest_group) for d in r.days] == [
        ("2026-11-28", 6, 3, 1), ("2026-11-29", 1, 1, 1),
    ]  # fmt: skip


def test_client_counts_in_the_groups_when_it_is_published() -> None:
    r = measured([ev(1, client="198.51.100.0/24"), ev(2, client="198.51.100.0/24"), ev(3, client="203.0.113.0/24")])
    assert (r.days[0].groups, r.days[0].smallest_group) == (2, 1)
    assert CLIENT_FIELDS[-1] == "client" and len(CLIENT_FIELDS) == 12


def test_placeholder_shares_and_what_each_is_of() -> None:
    rare_all = dict(site="(rare)", browser="(rare)", os="(rare)", device="(rare)", browser_major=None, bot=None)
    r = measured([
        ev(1, path="(rare)", referrer_domain="example.com"),
        ev(2, path=None, referrer_domain="(rare)"),  # a malformed request line: no path
        ev(3, browser="(rare)", os="(rare)"),
        ev(4, **rare_all),
    ])  # fmt: skip
    day = r.days[0]
    assert day.rare == {"path": 1, "browser": 2, "description": 1, "referrer_domain": 1}
    assert day.of == {"path": 3, "browser": 4, "description": 4, "referrer_domain": 2}
    assert (day.share("path"), day.share("referrer_domain"), day.share("browser")) == (1 / 3, 1 / 2, 1 / 2)


def test_a_duplicate_is_counted_as_one_and_once_in_every_other_figure() -> None:
    once = measured([ev(1), ev(2, browser="(rare)")], [tr(1), tr(2, value="(other)")])
    twice = measured([ev(1), ev(2, browser="(rare)"), ev(2, browser="Chrome")], [tr(1), tr(2, value="(other)")] * 2)
    assert (twice.events, twice.event_duplicates, twice.traffic, twice.traffic_duplicates) == (3, 1, 4, 2)
    assert twice.days == once.days and twice.spans == once.spans  # the first copy counts, whatever the second says


def test_traffic_buckets_per_span_other_share_and_windows_per_site() -> None:
    r = measured(traffic=[
        tr(1, dimension="total", value=""), tr(2), tr(3, value="(other)"), tr(4, dimension="browser", value="(other)"),
        tr(5, dimension="total", value="", window_start="2026-11-28T10:01:00Z"),
        tr(6, span="1h", dimension="total", value=""), tr(7, span="1h", value="(other)"),
        tr(8, span="1d", dimension="total", value="", site="shop.example"),
    ])  # fmt: skip
    assert [(s.span, s.buckets, s.totals, s.other, s.other_share) for s in r.spans] == [
        ("1m", 5, 2, 2, 2 / 3), ("1h", 2, 1, 1, 1.0), ("1d", 1, 1, 0, None),
    ]  # fmt: skip
    assert r.windows == {"default": {"1m": 2, "1h": 1}, "shop.example": {"1d": 1}}


@pytest.mark.parametrize("garbage", [None, [], "text", {"schema": "logscrub.event/1", "time": "x"},
                                     {"schema": "logscrub.event/2"}, {"schema": "logscrub.traffic/2"}])
def test_records_of_another_shape_are_counted_apart_and_measured_nowhere(garbage: Any) -> None:
    r = measured([garbage, ev(1)], [garbage, tr(1)])
    assert r.unreadable == {"events": 1, "traffic": 1}
    assert (r.events, r.traffic, r.days[0].events, r.spans[0].buckets) == (1, 1, 1, 1)


def test_the_table_names_every_figure() -> None:
    text = render(measured([ev(1), ev(2, path="(rare)")], [tr(1, dimension="total", value=""), tr(2, value="(other)")]))
    assert "analytics.events: 2 records, 0 duplicates by id" in text
    row = "2026-11-28       2       1               2      50.0%          0.0%              0.0%              -"
    assert row in text
    assert "\n1m          2       1   100.0%\n" in text
    assert "\nsite     1m windows\ndefault           1\n" in text


# --- On real scrub output -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    state = tmp / "state"
    state.mkdir(mode=0o700)
    summary = scrub(load(None, env={}), [str(SAMPLE)], tmp / "out", progress=False, keys=state / "keys.json")
    assert summary.accounted
    return tmp / "out"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def _report_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["report", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_report_on_scrub_output_gives_what_the_files_say(capsys, out: Path) -> None:
    events, traffic = _lines(out / "analytics.events.jsonl"), _lines(out / "analytics.traffic.jsonl")
    got = _report_json(capsys, str(out))

    groups: Counter[tuple] = Counter(tuple(e.get(f) for f in CLIENT_FIELDS) for e in events)
    (day,) = got["events"]["days"]
    assert (day["day"], day["events"], day["groups"], day["smallest_group"]) == (
        "2026-11-28", len(events), len(groups), min(groups.values()))
    assert day["rare"]["path"] == sum(e["path"] == "(rare)" for e in events) > 0
    assert day["of"]["path"] == sum(e["path"] is not None for e in events)
    assert day["rare"]["browser"] == sum(e["browser"] == "(rare)" for e in events) > 0
    assert day["rare"]["description"] == sum(e["site"] == "(rare)" for e in events)
    assert got["events"]["duplicates"] == 0

    # The sample itself carries traffic records that share an id (test_dedup_ids.py): counted as such.
    ids = Counter(r["id"] for r in traffic)
    assert got["traffic"]["duplicates"] == sum(n - 1 for n in ids.values())
    first = list({r["id"]: r for r in reversed(traffic)}.values())  # the first record of each id
    per_span = defaultdict(Counter)
    for r in first:
        per_span[r["span"]]["buckets"] += 1
        per_span[r["span"]]["other"] += r["dimension"] != "total" and r["value"] == "(other)"
    assert {s["span"]: (s["buckets"], s["other"]) for s in got["traffic"]["spans"]} == {
        span: (c["buckets"], c["other"]) for span, c in per_span.items()}
    assert got["traffic"]["windows"] == {"default": {
        span: len({r["window_start"] for r in traffic if r["span"] == span}) for span in ("1m", "1h", "1d")}}


def test_a_replayed_copy_of_the_outputs_shows_as_duplicates_only(capsys, out: Path, tmp_path: Path) -> None:
    once = _report_json(capsys, str(out))
    doubled = tmp_path / "doubled"
    doubled.mkdir()
    for name in ("analytics.events.jsonl", "analytics.traffic.jsonl"):
        (doubled / name).write_bytes((out / name).read_bytes() * 2)
    twice = _report_json(capsys, str(doubled))
    assert twice["events"]["duplicates"] == once["events"]["records"] == twice["events"]["records"] // 2
    assert twice["traffic"]["duplicates"] == once["traffic"]["records"] + once["traffic"]["duplicates"]
    assert twice["events"]["days"] == once["events"]["days"] and twice["traffic"]["spans"] == once["traffic"]["spans"]


def test_the_table_is_printed_by_default(capsys, out: Path) -> None:
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("analytics.events: 4,703 records, 0 duplicates by id\nday ")
    assert "\nanalytics.traffic: " in text and "\nsite     1m windows  1h windows  1d windows\n" in text


def test_no_personal_value_of_the_input_reaches_the_report(capsys, tmp_path: Path) -> None:
    lines, forbidden, _ = canaries.class_lines()
    log = tmp_path / "in.log"
    log.write_text("\n".join(lines + canaries.combined_lines()) + "\n")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    for client in ("none", "pseudonym"):
        cfg = load(None, env={"LOGSCRUB_INPUT__FORMAT": "combined", "LOGSCRUB_EVENTS__CLIENT": client})
        scrub(cfg, [str(log)], tmp_path / client, progress=False, keys=state / "keys.json")
        assert main(["report", str(tmp_path / client)]) == 0
        printed = capsys.readouterr().out + json.dumps(_report_json(capsys, str(tmp_path / client)))
        low = printed.lower()
        leaked = [v for v in [*canaries.FORBIDDEN, *forbidden] if v.lower() in low]
        assert not leaked, leaked[:5]


def test_topic_names_come_from_the_config(capsys, out: Path, tmp_path: Path, monkeypatch) -> None:
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    shutil.copy(out / "analytics.events.jsonl", renamed / "acme.events.jsonl")
    shutil.copy(out / "analytics.traffic.jsonl", renamed / "acme.traffic.jsonl")
    monkeypatch.setenv("LOGSCRUB_TOPICS__EVENTS__NAME", "acme.events")
    monkeypatch.setenv("LOGSCRUB_TOPICS__TRAFFIC__NAME", "acme.traffic")
    assert main(["report", str(renamed)]) == 0
    assert capsys.readouterr().out.startswith("acme.events: 4,703 records")


@pytest.mark.parametrize("argv,message", [
    ([], "give a scrub --out folder, or --topics to read the analytics topics"),
    (["--topics", "somewhere"], "give a scrub --out folder, or --topics, not both"),
    (["nowhere"], "nowhere has no analytics.events.jsonl: give the folder logscrub scrub --out wrote"),
])  # fmt: skip
def test_wrong_arguments_are_one_line_and_exit_2(argv: list[str], message: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "logscrub", "report", *argv], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"logscrub: {message}\n")


def test_the_events_published_with_their_day_are_counted() -> None:
    """An event over its slot's share cap is published with its day (``span`` 1d): hourly counts
    must leave it out, so the report says how many there are."""
    m = Measure()
    base = {"schema": "logscrub.event/2", "time": "2026-11-28T00:00:00Z", "site": "s"}
    for i, span in enumerate((None, "1d", "1d", None)):
        m.event({**base, "id": str(i), **({"span": span} if span else {})})
    (day,) = m.report().days
    assert (day.events, day.by_day) == (4, 2)
    assert "by the day" in render(m.report()) and "50.0%" in render(m.report())
