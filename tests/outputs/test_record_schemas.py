"""The JSON Schemas of every output record: versioned as the code writes records, valid Draft 2020-12,
documented, shipped in the wheel, printed by `logscrub schema`, and met by every record scrub writes
for a generated log, the hostile-input corpus and the canary lines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import canaries
from bench.sample import generate
from hostile_file import write_hostile_file
from logscrub.cli.main import main
from logscrub.config import DIMENSIONS, load
from logscrub.crypto import envelope
from logscrub.outputs import schemas
from logscrub.parsing.formats import REJECT_REASONS
from logscrub.run.scrub_files import scrub
from logscrub.scrub import aggregate
from logscrub.scrub.scrubber import EVENT_SCHEMA, METHODS, PROTOCOLS
from mmdb import write_asn_db, write_country_db
from record_schemas import assert_out_dir_valid, problems

ROOT = Path(__file__).resolve().parents[2]
BY_ROLE = {s.role: schemas.load(s) for s in schemas.SCHEMAS}


# --- The schemas themselves ---------------------------------------------------------------------


@pytest.mark.parametrize("s", schemas.SCHEMAS, ids=lambda s: s.name)
def test_each_schema_is_valid_draft_2020_12_and_named_as_its_records(s: schemas.RecordSchema) -> None:
    doc = schemas.load(s)
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["title"] == s.name and doc["$id"].endswith(s.name)
    assert doc["additionalProperties"] is False  # closed: an undocumented field fails the tests
    name, version = s.name.rsplit("/", 1)
    assert s.file == f"{name.removeprefix('logscrub.')}-{version}.schema.json"


def test_the_schema_versions_are_the_ones_the_code_writes() -> None:
    assert BY_ROLE["events"]["properties"]["schema"] == {"const": EVENT_SCHEMA}
    assert BY_ROLE["traffic"]["properties"]["schema"] == {"const": aggregate.SCHEMA}
    for role in ("security", "rejected"):
        assert BY_ROLE[role]["properties"]["v"]["const"] == envelope.VERSION
        assert schemas.find(f"logscrub.{'sealed' if role == 'security' else role}/{envelope.VERSION}").role == role


def test_closed_sets_in_the_schemas_are_the_code_s() -> None:
    events, traffic = BY_ROLE["events"]["properties"], BY_ROLE["traffic"]["properties"]
    assert set(events["method"]["enum"]) == {*METHODS, "(other)", None}
    assert set(events["protocol"]["enum"]) == {*PROTOCOLS, "(other)", None}
    assert events["status_class"]["enum"] == list(aggregate.STATUS_CLASSES)
    assert traffic["dimension"]["enum"] == [aggregate.TOTAL, *DIMENSIONS]
    assert traffic["status"]["required"] == list(aggregate.STATUS_CLASSES)
    assert BY_ROLE["rejected"]["properties"]["reason"]["enum"] == list(REJECT_REASONS)
    assert "reason" not in BY_ROLE["security"]["properties"]


def test_docs_schema_md_describes_every_field_of_every_schema() -> None:
    doc = (ROOT / "docs" / "schema.md").read_text()
    for s in schemas.SCHEMAS:
        assert f"`{s.name}`" in doc and s.file in doc, s.name
        missing = [f for f in schemas.load(s)["properties"] if f"`{f}`" not in doc]
        assert not missing, f"docs/schema.md does not describe {missing} of {s.name}"


# --- What the schemas refuse: each could fail ---------------------------------------------------

EVENT = {
    "schema": "logscrub.event/2", "id": "0123456789abcdef0123", "time": "2026-11-28T10:00:00Z", "site": "default",
    "method": "GET", "path": "/", "protocol": "HTTP/1.1", "status": 200, "status_class": "2xx", "bytes": 5,
    "browser": "Firefox", "browser_major": "128", "os": "Windows", "os_major": "10", "device": "desktop",
    "bot": False, "country": None, "asn": None, "as_org": None, "referrer_domain": None, "referrer_class": "none",
}  # fmt: skip
WINDOW = {
    "schema": "logscrub.traffic/2", "id": "0123456789abcdef0123", "window_start": "2026-11-28T10:00:00Z",
    "window_end": "2026-11-28T10:01:00Z", "span": "1m", "site": "default", "dimension": "path", "value": "/",
    "requests": 9, "bytes": 90, "status": {"1xx": 0, "2xx": 9, "3xx": 0, "4xx": 0, "5xx": 0, "other": 0},
    "visitors": 7,
}  # fmt: skip
ROLLUP = {k: v for k, v in WINDOW.items() if k not in ("requests", "bytes", "status")} | {
    "span": "1h", "window_end": "2026-11-28T11:00:00Z"
}
SEALED = {"v": 3, "kid": "data-20261128T100000-0a1b2c3d", "sk": "xJ3FJuRO9pm+iZw29GQuJgn6GRK639VK96rNkEbSz5hXBOyw8g==",
          "ingested": 1.5,
          "src": "0:17", "nonce": "So8rT+ydQ8v8dDu6", "ct": "8Z67ke8iJ94SDk3hSfgyCqTLVJbxXeDpwClSM21b0t2D"}


@pytest.mark.parametrize("role,record", [
    ("events", EVENT), ("events", EVENT | {"client": "203.0.113.0/24", "duration_ms": 3, "query": {"page": "2"}}),
    ("traffic", WINDOW), ("traffic", ROLLUP), ("traffic", WINDOW | {"dimension": "total", "value": ""}),
    ("security", SEALED), ("security", {k: v for k, v in SEALED.items() if k != "sk"}),
    ("rejected", SEALED | {"reason": "no_match", "src": "12"}),
], ids=["event", "event-optional", "window", "rollup", "total", "sealed", "sealed-no-sk", "rejected"])  # fmt: skip
def test_the_reference_records_pass(role: str, record: dict) -> None:
    assert problems([record], role) == []


BAD = [
    ("events", EVENT | {"ip": "192.0.2.1"}, "additionalProperties"),
    ("events", EVENT | {"user_agent": "Mozilla/5.0"}, "additionalProperties"),
    ("events", EVENT | {"schema": "logscrub.event/1"}, "const"),
    ("events", {k: v for k, v in EVENT.items() if k != "id"}, "required"),
    ("events", EVENT | {"id": "not-hex"}, "pattern"),
    ("events", EVENT | {"time": "2026-11-28 10:00:00"}, "pattern"),
    ("events", EVENT | {"query": {"page": 2}}, "type"),
    ("events", EVENT | {"device": "phone"}, "enum"),
    ("traffic", ROLLUP | {"requests": 3}, "dependentRequired"),
    ("traffic", {k: v for k, v in WINDOW.items() if k != "status"}, "dependentRequired"),
    ("traffic", {k: v for k, v in WINDOW.items() if k not in ("requests", "bytes", "status")}, "required"),
    ("traffic", WINDOW | {"status": {**WINDOW["status"], "6xx": 1}}, "additionalProperties"),
    ("traffic", WINDOW | {"dimension": "total"}, "const"),
    ("traffic", WINDOW | {"value": ""}, "minLength"),
    ("traffic", WINDOW | {"span": "1 minute"}, "pattern"),
    ("security", SEALED | {"reason": "no_match"}, "additionalProperties"),
    ("security", SEALED | {"v": 1}, "const"),
    ("rejected", SEALED, "required"),
    ("rejected", SEALED | {"reason": "because"}, "enum"),
]  # fmt: skip


@pytest.mark.parametrize("role,record,keyword", BAD, ids=[f"{r}-{k}-{i}" for i, (r, _, k) in enumerate(BAD)])
def test_a_record_off_the_schema_fails_for_the_right_reason(role: str, record: dict, keyword: str) -> None:
    found = problems([record], role)
    assert found and all(f"fails {keyword}" in p for p in found), found


def test_a_failure_names_fields_never_values() -> None:
    found = problems([EVENT | {"path": 7, "ip": "192.0.2.1"}], "events")
    assert found and "192.0.2.1" not in "".join(found) and "'ip' was unexpected" in "".join(found)


# --- Every record scrub writes ------------------------------------------------------------------


def _scrub(tmp_path: Path, lines: list[str] | None = None, path: Path | None = None, **env: str) -> dict[str, list]:
    if path is None:
        path = tmp_path / "in.log"
        path.write_text("".join(line + "\n" for line in lines or ()))
    out = tmp_path / "out"
    cfg = load(None, env=env)
    summary = scrub(cfg, [str(path)], out, progress=False)
    assert summary.accounted
    return assert_out_dir_valid(out, cfg.topics)


def _counts(records: dict[str, list]) -> dict[str, int]:
    return {role: len(values) for role, values in records.items()}


CONFIGS = {
    "default": {},
    "client-network": {"LOGSCRUB_EVENTS__CLIENT": "network"},
    "client-pseudonym": {"LOGSCRUB_EVENTS__CLIENT": "pseudonym"},
    "query-and-sketches": {"LOGSCRUB_URL__QUERY_ALLOW": "[page, lang, sort]",
                           "LOGSCRUB_AGGREGATE__PUBLISH_SKETCHES": "true"},
    "5m-window": {"LOGSCRUB_AGGREGATE__WINDOW": "5m", "LOGSCRUB_AGGREGATE__ROLLUPS": "[1h]",
                  "LOGSCRUB_EVENTS__TIME_GRANULARITY": "5m", "LOGSCRUB_AGGREGATE__K": "3"},
}  # fmt: skip


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_record_of_a_generated_log_is_valid(tmp_path: Path, name: str) -> None:
    lines = generate(6000, seed=5, clients=400, user_agents=60)
    records = _scrub(tmp_path, lines, **CONFIGS[name])
    counts = _counts(records)
    assert counts["security"] + counts["rejected"] == len(lines) and counts["rejected"] > 0
    assert counts["events"] >= 0.9 * counts["security"]  # the rest withheld
    traffic = records["traffic"]
    assert {r["span"] for r in traffic} >= {"1h"} and any("requests" in r for r in traffic)
    if name == "query-and-sketches":
        assert any("query" in e for e in records["events"]) and all("visitors_sketch" in r for r in traffic)
    if name.startswith("client-"):
        assert all(e["client"] for e in records["events"])


def test_every_record_with_geoip_is_valid(tmp_path: Path) -> None:
    country, asn = write_country_db(tmp_path / "c.mmdb"), write_asn_db(tmp_path / "a.mmdb")
    lines = generate(4000, seed=9, clients=300, user_agents=40)
    records = _scrub(tmp_path, lines, LOGSCRUB_GEOIP__COUNTRY_DB=str(country), LOGSCRUB_GEOIP__ASN_DB=str(asn))
    assert any(e["country"] for e in records["events"]) and any(e["asn"] for e in records["events"])
    assert any(r["dimension"] == "country" and r["value"] == "AU" for r in records["traffic"])


def test_every_record_of_the_hostile_corpus_is_valid(tmp_path: Path) -> None:
    cfg = load(None)
    lines = write_hostile_file(tmp_path / "hostile.log", cfg.input.max_line_bytes)
    records = _scrub(tmp_path, path=tmp_path / "hostile.log")
    assert len(records["security"]) + len(records["rejected"]) == len(lines)  # events, and the lines withheld
    assert 0 < len(records["events"]) <= len(records["security"])
    assert {r["reason"] for r in records["rejected"]} >= {"no_match", "too_long", "empty", "bad_json"}


@pytest.mark.parametrize("client", ["none", "network", "pseudonym"])
def test_every_record_of_the_canary_lines_is_valid(tmp_path: Path, client: str) -> None:
    lines, _, _ = canaries.class_lines()
    records = _scrub(tmp_path, lines + canaries.combined_lines(), LOGSCRUB_EVENTS__CLIENT=client,
                     LOGSCRUB_INPUT__FORMAT="combined")
    assert records["events"] and records["rejected"] and records["traffic"]
    json_dir = tmp_path / "json"
    json_dir.mkdir()
    timed = [json.dumps({"remote_addr": f"192.0.2.{i}", "time_iso8601": "2026-11-28T10:00:09+00:00",
                         "request": "GET /timed HTTP/1.1", "status": "200", "body_bytes_sent": "5",
                         "request_time": "0.012"}) for i in range(3)]  # fmt: skip
    records = _scrub(json_dir, canaries.json_lines() + timed, LOGSCRUB_EVENTS__CLIENT=client,
                     LOGSCRUB_INPUT__FORMAT="json", LOGSCRUB_IP__TRUSTED_PROXIES="[198.51.100.0/24]",
                     LOGSCRUB_AGGREGATE__K="2")
    assert records["rejected"] and [e["duration_ms"] for e in records["events"] if "duration_ms" in e] == [12] * 3


# --- Shipped and printed ------------------------------------------------------------------------


def test_the_wheel_carries_the_schemas(tmp_path: Path) -> None:
    """Built as pip builds it (the build backend from PyPI), from a copy: a build writes into its source."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(src)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("logscrub-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for s in schemas.SCHEMAS:
        assert f"logscrub/outputs/schemas/{s.file}" in names


def test_schema_lists_every_schema_with_its_topic_as_configured(capsys, monkeypatch) -> None:
    monkeypatch.setenv("LOGSCRUB_TOPICS__EVENTS__NAME", "acme.events")
    assert main(["schema"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split()[:3] == ["name", "topic", "told"]
    assert [r.split()[:2] for r in rows[1:]] == [
        ["logscrub.event/2", "acme.events"], ["logscrub.traffic/2", "analytics.traffic"],
        ["logscrub.sealed/3", "security.raw"], ["logscrub.rejected/3", "logs.rejected"],
    ]  # fmt: skip


@pytest.mark.parametrize("name,file", [("logscrub.traffic/2", "traffic-2.schema.json"),
                                       ("analytics.events", "event-2.schema.json"),
                                       ("logs.rejected", "rejected-3.schema.json")])
def test_schema_prints_the_file_as_kept(capsys, name: str, file: str) -> None:
    assert main(["schema", name]) == 0
    printed = capsys.readouterr().out
    assert printed == (ROOT / "src" / "logscrub" / "outputs" / "schemas" / file).read_text()
    assert json.loads(printed)["$schema"].endswith("2020-12/schema")


def test_an_unknown_schema_is_one_line_and_exit_2() -> None:
    done = subprocess.run([sys.executable, "-m", "logscrub", "schema", "logscrub.event/1"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert re.fullmatch(r"logscrub: no schema called 'logscrub.event/1': one of .*logscrub.rejected/3, or its "
                        r"topic's name\n", done.stderr)

