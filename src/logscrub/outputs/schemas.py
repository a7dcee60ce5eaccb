"""The JSON Schemas (Draft 2020-12) of every record type of every output topic, kept as data files
in ``schemas/`` beside this module (package data: a wheel carries them).

Each is versioned as its records are: analytics records name theirs in the ``schema`` field
(``logscrub.event/2``), sealed envelopes by their ``v`` field. A new major version is a new file;
the old one stays while records of it may still be read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from logscrub.config import TopicsConfig


@dataclass(frozen=True)
class RecordSchema:
    """One record type: its name, the topic role it is published on, and its schema file."""

    name: str  # logscrub.event/2
    role: str  # the TopicsConfig field of its topic: events, traffic, security, rejected
    file: str  # in schemas/
    tag: str  # how a record says which it is
    summary: str


SCHEMAS: tuple[RecordSchema, ...] = (
    RecordSchema("logscrub.event/2", "events", "event-2.schema.json", '"schema": "logscrub.event/2"',
                 "one anonymized request"),
    RecordSchema("logscrub.traffic/2", "traffic", "traffic-2.schema.json", '"schema": "logscrub.traffic/2"',
                 "a window's bucket (requests, bytes, status, visitors) or a rollup's (visitors)"),
    RecordSchema("logscrub.sealed/3", "security", "sealed-3.schema.json", '"v": 3',
                 "a sealed raw line that parsed (raw zone)"),
    RecordSchema("logscrub.rejected/3", "rejected", "rejected-3.schema.json", '"v": 3 and "reason"',
                 "a sealed line that did not parse, with its reason (raw zone)"),
)  # fmt: skip


class UnknownSchema(LookupError):
    """A name that is neither a schema's nor its topic's."""


def find(name: str, topics: TopicsConfig | None = None) -> RecordSchema:
    """The schema called ``name``, or published on the topic called ``name`` (as ``topics`` names them)."""
    topics = topics or TopicsConfig()
    for s in SCHEMAS:
        if name in (s.name, getattr(topics, s.role).name):
            return s
    raise UnknownSchema(name)


@cache
def text(s: RecordSchema) -> str:
    """The schema file as it is kept (read from the package's data files)."""
    return resources.files(__package__).joinpath("schemas", s.file).read_text(encoding="utf-8")


def load(s: RecordSchema) -> dict[str, Any]:
    """The schema as a JSON object (a fresh copy: callers may change it)."""
    loaded: dict[str, Any] = json.loads(text(s))
    return loaded

