"""Checks records against logscrub's JSON Schemas (jsonschema, Draft 2020-12), for every test that
produces output: through ``scrub`` (a ``--out`` folder) or read from the topics."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker

from logscrub.config import TopicsConfig
from logscrub.outputs import schemas


@cache
def validator(name: str) -> Draft202012Validator:
    s = schemas.find(name)
    return Draft202012Validator(schemas.load(s), format_checker=FormatChecker())


def problems(records: Iterable[dict[str, Any]], role: str) -> list[str]:
    """What is wrong with each record of the topic role (events, traffic, security, rejected), one line
    each. Only field names and the failing keyword are named, never a value: a value that fails may be
    one that should never have been published."""
    check = validator(next(s.name for s in schemas.SCHEMAS if s.role == role))
    found = []
    for i, record in enumerate(records):
        for e in check.iter_errors(record):
            where = "/".join(map(str, e.absolute_path)) or "(record)"
            names = f" ({e.message})" if e.validator in ("additionalProperties", "required") else ""
            found.append(f"{role} record {i}: {where}: fails {e.validator}{names}")
    return found


def assert_valid(records: list[dict[str, Any]], role: str) -> None:
    found = problems(records, role)
    assert not found, "\n".join(found[:20])


def assert_out_dir_valid(out: Path, topics: TopicsConfig | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every record of every file of a ``scrub --out`` folder is valid; the records by role."""
    topics = topics or TopicsConfig()
    by_role = {}
    for s in schemas.SCHEMAS:
        path = out / f"{getattr(topics, s.role).name}.jsonl"
        records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        assert_valid(records, s.role)
        by_role[s.role] = records
    return by_role
