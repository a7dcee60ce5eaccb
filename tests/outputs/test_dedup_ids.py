"""The `id` of analytics records (issue 16 item 3): the same for a replayed duplicate, different for
different records, and nothing without the day's key. The worker side (a SIGKILL replay) is in
tests/integration/test_worker.py. Two gaps found here are closed: an id keyed on the line number
alone (two scrub runs of one day), and a referrer value named like the folded bucket."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from bench.sample import generate
from logscrub.config import load
from logscrub.run.scrub_files import scrub
from logscrub.scrub import build

LINE = b'203.0.113.9 - - [28/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "Mozilla/5.0"'
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "access.log"


def _scrubber():
    cfg = load(None, env={"LOGSCRUB_INPUT__FORMAT": "combined"})
    return build.scrubber(cfg, "combined", *build.key_rings(cfg, None))


def test_a_replayed_line_has_its_first_id_and_another_position_another() -> None:
    s = _scrubber()
    s.process(LINE.replace(b"203.0.113.9", b"198.51.100.1"), 1e9, "0:1")  # another client: nothing withheld
    first, replay, other = (s.process(LINE, 1e9, src).event["id"] for src in ("0:17", "0:17", "0:18"))
    assert first == replay != other
    assert len(first) == 20 and int(first, 16) >= 0


def test_an_id_says_nothing_without_the_day_s_key() -> None:
    """Another key (another day, or a worker that never held this one) gives another id for the same
    position: the id is a keyed hash, not a code of the position."""
    assert _scrubber().process(LINE, 1e9, "0:17").event["id"] != _scrubber().process(LINE, 1e9, "0:17").event["id"]


def _run(tmp_path: Path, name: str, inputs: list[Path], keys: Path) -> list[dict]:
    out = tmp_path / name
    scrub(load(None, env={}), [str(p) for p in inputs], out, progress=False, keys=keys)
    return [orjson.loads(x) for x in (out / "analytics.events.jsonl").read_bytes().splitlines()]


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    return state / "keys.json"


def test_one_scrub_run_gives_every_event_its_own_id(tmp_path: Path, keys: Path) -> None:
    events = _run(tmp_path, "out", [SAMPLE], keys)
    assert len({e["id"] for e in events}) == len(events) > 4000


def test_two_scrub_runs_on_one_day_give_different_lines_different_ids(tmp_path: Path, keys: Path) -> None:
    now = datetime.now(UTC)
    start = max(now - timedelta(minutes=10), now.replace(hour=0, minute=0, second=0, microsecond=0))
    logs = []
    for seed in (1, 2):
        log = tmp_path / f"{seed}.log"
        log.write_text("\n".join(generate(300, seed=seed, clients=60, start=start)) + "\n")
        logs.append(log)
    a, b = _run(tmp_path, "a", logs[:1], keys), _run(tmp_path, "b", logs[1:], keys)
    assert not {e["id"] for e in a} & {e["id"] for e in b}


def test_one_scrub_run_gives_every_traffic_record_its_own_id(tmp_path: Path, keys: Path) -> None:
    _run(tmp_path, "out", [SAMPLE], keys)
    traffic = [orjson.loads(x) for x in (tmp_path / "out" / "analytics.traffic.jsonl").read_bytes().splitlines()]
    shared = Counter(r["id"] for r in traffic)
    assert [n for n in shared.values() if n > 1] == []
