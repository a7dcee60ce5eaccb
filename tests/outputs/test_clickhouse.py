"""ClickHouse, for real (issue 16 item 2): the tables of the file the README points to, in an embedded
ClickHouse (chdb), loaded with the README's own INSERT statements from real `scrub` output (the bundled
sample and a generated second day), twice, as a replay would deliver it; the README's queries then
answer what the records say, each record counted once."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from chdb import session

from bench.sample import generate
from logscrub.config import Config, load
from logscrub.outputs import schemas
from logscrub.run.scrub_files import scrub

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "access.log"


def analysts_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Quick start: analysts")
    return readme[start : readme.index("\n## ", start + 1)]


def statements(sql: str) -> list[str]:
    """The statements of a SQL text, comments dropped (none of ours has ';' or '--' in a string)."""
    return [s.strip() for s in re.sub(r"--[^\n]*", "", sql).split(";") if s.strip()]


def readme_queries() -> dict[str, str]:
    """The README's example queries by the comment line above each."""
    (block,) = re.findall(r"```sql\n(.*?)```", analysts_section(), re.S)
    queries = {}
    for chunk in block.split(";"):
        title = re.search(r"^-- (.+)$", chunk, re.M)
        if chunk.strip():
            assert title, f"a README query without a title comment: {chunk!r}"
            queries[title[1].split(" (")[0]] = statements(chunk)[0]
    return queries


def readme_ddl() -> Path:
    (path,) = re.findall(r"clickhouse-client --multiquery < (examples/clickhouse/\S+\.sql)", analysts_section())
    return ROOT / path


def readme_inserts() -> list[tuple[str, str]]:
    """(INSERT statement, the scrub output file it reads) as the README runs them."""
    found = re.findall(r'clickhouse-client --query "(INSERT INTO logscrub\.\w+ [^"]+)" < out/(\S+)', analysts_section())
    assert len(found) == 2, found
    return found


def rows(s: session.Session, sql: str, **params: str) -> list[dict[str, Any]]:
    result = s.query(sql, "JSONEachRow", params=params or None)
    return [orjson.loads(line) for line in result.bytes().splitlines()]


def insert(s: session.Session, statement: str, data: bytes) -> None:
    """What clickhouse-client sends for ``--query STATEMENT < FILE``: the statement, then the data."""
    s.query(f"{statement}\n{data.decode()}")


def _ch_time(iso: str) -> str:
    return iso.replace("T", " ").removesuffix("Z")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real scrub output over two days: the bundled sample (28 Nov) and a generated log (29 Nov)."""
    tmp = tmp_path_factory.mktemp("clickhouse-scrub")
    day2 = tmp / "day2.log"
    day2.write_text("\n".join(generate(4000, seed=21, clients=300, user_agents=50,
                                       start=datetime(2026, 11, 29, 9, 0, tzinfo=UTC))) + "\n")  # fmt: skip
    keys = tmp / "state"
    keys.mkdir(mode=0o700)
    summary = scrub(load(None, env={}), [str(SAMPLE), str(day2)], tmp / "out", progress=False, keys=keys / "keys.json")
    assert summary.accounted and summary.events > 8000
    return tmp / "out"


@pytest.fixture(scope="module")
def records(out: Path) -> dict[str, list[dict[str, Any]]]:
    topics = Config().topics
    files = {role: out / f"{getattr(topics, role).name}.jsonl" for role in ("events", "traffic")}
    return {role: [orjson.loads(line) for line in path.read_bytes().splitlines()] for role, path in files.items()}


@pytest.fixture(scope="module")
def clickhouse(out: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[session.Session]:
    """The README's tables and loads, run twice (a replay), on a server whose date input is the stock
    default, basic: the statements must bring the setting they need."""
    s = session.Session(str(tmp_path_factory.mktemp("chdb")))
    try:
        s.query("SET date_time_input_format = 'basic'")
        for statement in statements(readme_ddl().read_text()):
            s.query(statement)
        for _ in range(2):
            for statement, file in readme_inserts():
                insert(s, statement, (out / file).read_bytes())
        yield s
    finally:
        s.close()


def test_the_readme_points_at_the_tables_and_names_every_query() -> None:
    assert readme_ddl() == ROOT / "examples" / "clickhouse" / "tables.sql"
    assert list(readme_queries()) == [
        "Requests per path per hour", "Status mix per browser",
        "Daily distinct visitors per site, from the 1d rollups", "Duplicates: rows stored, and events once each",
    ]  # fmt: skip
    assert {file for _, file in readme_inserts()} == {"analytics.events.jsonl", "analytics.traffic.jsonl"}


@pytest.mark.parametrize("table,role", [("events", "events"), ("traffic", "traffic")])
def test_the_tables_have_a_column_for_every_schema_field_and_no_other(clickhouse, table: str, role: str) -> None:
    columns = [r["name"] for r in rows(clickhouse, f"DESCRIBE TABLE logscrub.{table}")]
    fields = list(schemas.load(next(s for s in schemas.SCHEMAS if s.role == role))["properties"])
    assert columns == fields


def test_the_default_date_parser_refuses_our_timestamps_so_the_load_sets_best_effort(clickhouse, out: Path) -> None:
    statement, file = readme_inserts()[0]
    assert "date_time_input_format = 'best_effort'" in statement
    first = (out / file).read_bytes().split(b"\n", 1)[0]
    with pytest.raises(Exception, match="Cannot parse input"):
        insert(clickhouse, statement.replace("SETTINGS date_time_input_format = 'best_effort' ", ""), first)


def test_a_replay_stores_every_row_twice_and_the_dedup_query_counts_each_event_once(clickhouse, records) -> None:
    n = len(records["events"])
    assert len({e["id"] for e in records["events"]}) == n  # one run of scrub: one id per line
    (answer,) = rows(clickhouse, readme_queries()["Duplicates: rows stored, and events once each"])
    assert answer == {"rows": 2 * n, "events": n, "events_final": n}
    (traffic,) = rows(clickhouse, "SELECT count() AS stored, (SELECT count() FROM logscrub.traffic FINAL) AS final "
                                  "FROM logscrub.traffic")  # fmt: skip
    # One row per id. Not one per record: one scrub run can publish two records with one id (the
    # referrer class "(other)" meets the folded "(other)" bucket: test_dedup_ids.py), and ClickHouse
    # keeps one of them even within a single insert.
    ids = {r["id"] for r in records["traffic"]}
    assert traffic == {"stored": 2 * len(ids), "final": len(ids)}


def test_requests_per_path_per_hour(clickhouse, records) -> None:
    hourly = [e for e in records["events"] if "span" not in e]  # not those published with their day
    expected = Counter((_ch_time(e["time"]), e["path"]) for e in hourly)
    got = rows(clickhouse, readme_queries()["Requests per path per hour"])
    assert {(r["hour"], r["path"]): r["requests"] for r in got} == expected
    assert len(got) == len(expected) > 50
    assert sum(r["requests"] for r in got) == len(hourly) < len(records["events"])  # each event once, not twice


def test_status_mix_per_browser(clickhouse, records) -> None:
    expected = Counter((e["browser"], e["status_class"]) for e in records["events"])
    per_browser = Counter(e["browser"] for e in records["events"])
    got = rows(clickhouse, readme_queries()["Status mix per browser"])
    assert {(r["browser"], r["status_class"]): r["requests"] for r in got} == expected
    for r in got:
        assert r["percent"] == pytest.approx(100 * r["requests"] / per_browser[r["browser"]], abs=0.051)
    assert {r["browser"] for r in got} >= {"Chrome", "Firefox", "(rare)"}


def test_daily_distinct_visitors_from_the_1d_rollups(clickhouse, records) -> None:
    expected = [
        {"day": r["window_start"][:10], "site": r["site"], "visitors": r["visitors"]}
        for r in sorted(records["traffic"], key=lambda r: (r["window_start"], r["site"]))
        if r["span"] == "1d" and r["dimension"] == "total"
    ]
    assert [e["day"] for e in expected] == ["2026-11-28", "2026-11-29"]
    assert rows(clickhouse, readme_queries()["Daily distinct visitors per site, from the 1d rollups"]) == expected


def test_a_replay_that_describes_an_event_more_coarsely_is_still_one_row(clickhouse, records) -> None:
    """Invariant 2 may publish a replayed line's client fields coarser than the first time, or with
    its day: only its id and day are sure to be the same, and the events table is keyed on nothing
    else. (The tables
    again, in a database of their own: chdb runs one server per process.)"""
    s = clickhouse
    s.query("CREATE DATABASE IF NOT EXISTS replay")
    for statement in statements(readme_ddl().read_text()):
        if "CREATE DATABASE" not in statement:
            s.query(statement.replace("logscrub.", "replay."))
    statement, _ = next(i for i in readme_inserts() if i[1] == "analytics.events.jsonl")
    statement = statement.replace("logscrub.", "replay.")
    first = records["events"][:50]
    coarse = dict(first[0], site="(rare)", browser="(rare)", os="(rare)", device="(rare)", path="(rare)")
    # A copy that waited for its day's own slot: the day's start as its time, same id and day.
    by_day = dict(first[1], time=first[1]["time"][:10] + "T00:00:00Z", span="1d")
    assert by_day["time"] != first[1]["time"]
    for batch in (first, [coarse], [by_day]):
        insert(s, statement, b"".join(orjson.dumps(e) + b"\n" for e in batch))
    assert rows(s, "SELECT count() AS n FROM replay.events") == [{"n": 52}]
    kept = rows(s, "SELECT site, browser FROM replay.events FINAL WHERE id = {id:String}", id=first[0]["id"])
    assert kept == [{"site": "(rare)", "browser": "(rare)"}]  # the last delivered wins
    assert rows(s, "SELECT count() AS n FROM replay.events FINAL") == [{"n": 50}]


def test_the_kafka_engine_variant_parses_and_reads_the_analytics_topics_in_analyst_groups(clickhouse) -> None:
    """chdb has no background consumers for the Kafka engine, so the streaming variant is checked by
    ClickHouse's own parser, and for what it names: our tables, our topics, the analysts' groups."""
    kafka_sql = (ROOT / "examples" / "clickhouse" / "kafka.sql").read_text()
    found = statements(kafka_sql)
    assert len(found) == 4
    for statement in found:
        escaped = statement.replace("\\", "\\\\").replace("\n", "\\n")  # a parameter is in escaped form
        (parsed,) = rows(clickhouse, "SELECT formatQuery({q:String}) AS q", q=escaped)
        assert parsed["q"].startswith("CREATE ")
    cfg = Config()
    for table, role in (("events", "events"), ("traffic", "traffic")):
        assert f"CREATE TABLE IF NOT EXISTS logscrub.{table}_queue AS logscrub.{table}" in kafka_sql
        assert f"kafka_topic_list = '{getattr(cfg.topics, role).name}'" in kafka_sql
        assert f"kafka_group_name = '{cfg.kafka.analyst_group_prefix}clickhouse-{table}'" in kafka_sql
        assert f"MATERIALIZED VIEW IF NOT EXISTS logscrub.{table}_consumer TO logscrub.{table}" in kafka_sql
    assert kafka_sql.count("date_time_input_format = 'best_effort'") == 2

