"""The Druid ingestion specs of examples/druid (docs/analytics.md), checked statically: JSON, and
every field they name is one the topic's schema has; every field of the schema is ingested, or
left out on purpose."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from logscrub.config import TopicsConfig
from logscrub.outputs import schemas

ROOT = Path(__file__).resolve().parents[2]
# Fields a spec leaves out on purpose: the version (one per datasource) and the opt-in sketch (Druid
# has sketches of its own). Traffic's status is read as one column per class (flattenSpec).
LEFT_OUT = {"events": {"schema"}, "traffic": {"schema", "visitors_sketch"}}
SPECS = {"events": "events-supervisor.json", "traffic": "traffic-supervisor.json"}


def _schema(role: str) -> dict:
    return schemas.load(next(s for s in schemas.SCHEMAS if s.role == role))


@pytest.mark.parametrize("role", list(SPECS))
def test_the_spec_names_only_fields_of_the_schema_and_ingests_every_other(role: str) -> None:
    spec = json.loads((ROOT / "examples" / "druid" / SPECS[role]).read_text())["spec"]
    props = _schema(role)["properties"]
    assert spec["ioConfig"]["topic"] == getattr(TopicsConfig(), role).name
    timestamp = spec["dataSchema"]["timestampSpec"]
    assert timestamp == {"column": timestamp["column"], "format": "iso"} and timestamp["column"] in props

    flattened = {}
    for field in spec["ioConfig"]["inputFormat"].get("flattenSpec", {}).get("fields", []):
        path = re.fullmatch(r"\$\.(\w+)\['([^']+)'\]", field["expr"])
        assert path, field
        assert path[1] in props and path[2] in props[path[1]]["properties"], field
        flattened[field["name"]] = path[1]
    dims = [d if isinstance(d, str) else d["name"] for d in spec["dataSchema"]["dimensionsSpec"]["dimensions"]]
    assert len(dims) == len(set(dims))
    unknown = [d for d in dims if d not in props and d not in flattened]
    assert not unknown, f"{SPECS[role]} names fields {role} records do not have: {unknown}"
    for d in spec["dataSchema"]["dimensionsSpec"]["dimensions"]:
        if isinstance(d, dict) and d["type"] == "long" and d["name"] in props:
            assert "integer" in props[d["name"]].get("type", []) or props[d["name"]].get("$ref") == "#/$defs/count", d

    ingested = {timestamp["column"], *dims, *flattened.values()}
    assert set(props) - ingested == LEFT_OUT[role]


def test_docs_point_at_the_specs() -> None:
    doc = (ROOT / "docs" / "analytics.md").read_text()
    for file in SPECS.values():
        assert f"examples/druid/{file}" in doc
