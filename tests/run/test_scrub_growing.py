"""`scrub` run again and again over a growing log (cron, one keys file): each run writes only the
slots and windows that are over by the wall clock, so a later run writes them again unchanged and
never revised (red-team round 3: a run's partial hour linked 10.4% of events by the run they first
appeared in, and rollups were revised by fewer than k visitors)."""

from datetime import UTC, datetime, timedelta

import orjson

from bench.sample import generate
from logscrub.config import load
from logscrub.run.scrub_files import scrub

LATENESS = 60  # aggregate.allowed_lateness, the default


def _records(out, name: str) -> dict[str, dict]:
    return {r["id"]: r for r in map(orjson.loads, (out / name).read_bytes().splitlines())}


def _slot_end(time_text: str, span: int) -> float:
    start = datetime.strptime(time_text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return start + span


def test_a_growing_log_is_written_in_whole_slots_and_windows_never_revised(tmp_path):
    # Two hours of yesterday morning, the runs' clock then: from the last two hours of today, the log
    # held a minute just after midnight, nothing over (CI, 2 December, 00:01).
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    start = now - timedelta(hours=2)
    n = int((now - start).total_seconds() / 0.4) - 10  # a line each 0.4 s, up to ~4 s before ``now``
    lines = generate(n, clients=400, user_agents=20, start=start)
    cfg, keys, log = load(None, env={}), tmp_path / "state" / "keys.json", tmp_path / "access.log"
    runs = []
    for upto in (n * 2 // 3, n):  # two runs of a cron job, the first when the log was 2/3 written
        log.write_text("\n".join(lines[:upto]) + "\n")
        ended = (start + timedelta(seconds=0.4 * upto + 4)).timestamp()
        out = tmp_path / f"out{upto}"
        summary = scrub(cfg, [str(log)], out, progress=False, keys=keys, clock=lambda ended=ended: ended)
        assert summary.accounted and summary.lines == upto and not summary.late_events
        events, traffic = _records(out, "analytics.events.jsonl"), _records(out, "analytics.traffic.jsonl")
        assert len(events) == summary.events
        # Nothing written whose slot or window was not over, by the clock and the lateness.
        assert all(_slot_end(e["time"], 3600) + LATENESS <= ended for e in events.values())
        assert all(_slot_end(r["window_start"], _SPANS[r["span"]]) + LATENESS <= ended for r in traffic.values())
        runs.append((summary, events, traffic))
    (_, events1, traffic1), (last, events2, traffic2) = runs
    assert last.not_over > 0 and last.open_windows > 0  # the hour in progress: held for a later run
    assert "not over:" in last.render()
    # What the first run wrote, the second writes again, byte for byte: nothing to tell the runs apart.
    assert {i: events2.get(i) for i in events1} == events1
    assert {i: traffic2.get(i) for i in traffic1} == traffic1
    assert len(traffic2) > len(traffic1)


_SPANS = {"1m": 60, "1h": 3600, "1d": 86400}
