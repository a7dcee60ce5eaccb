"""Records held by the thousand keep their own size, whatever orjson's buffer does."""

from __future__ import annotations

import tracemalloc

import orjson

from logscrub.scrub.json_bytes import json_bytes

EVENT = {"schema": "logscrub.event/2", "id": "4b07593636991efae67f", "time": "2026-11-28T10:00:00Z",
         "site": "www.example.com", "path": "/docs/{id}", "status": 200, "bytes": 180342, "browser": "Chrome"}  # fmt: skip


def test_the_same_bytes_as_orjson() -> None:
    assert json_bytes(EVENT) == orjson.dumps(EVENT)
    assert json_bytes(EVENT, orjson.OPT_APPEND_NEWLINE) == orjson.dumps(EVENT) + b"\n"


def test_a_thousand_held_take_little_more_than_their_length() -> None:
    size = len(orjson.dumps(EVENT))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [json_bytes(EVENT) for _ in range(1000)]
        per_record = (tracemalloc.get_traced_memory()[0] - before) / len(held)
    finally:
        tracemalloc.stop()
    # a bytes object's header and the list's slot: orjson 3.13's own results took 4,098 bytes each
    assert per_record < size + 100, per_record
