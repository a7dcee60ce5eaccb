"""`make demo`: the whole streaming pipeline on the bundled sample log, on a broker of its own.

Starts a local KRaft broker (scripts/kafka.sh), applies the topics, runs a worker, ships the
sample log, waits until every line is accounted for, shows a few records of each output topic,
and stops everything again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson

from logscrub.config import Config, load
from logscrub.kafka.scan import read_topic
from logscrub.run.scrub_files import scrub
from logscrub.run.ship import ship
from logscrub.kafka.topics import admin_client, apply_topics

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".kafka" / "demo"
SAMPLE = ROOT / "samples" / "access.log"


def _kafka(*args: str) -> str:
    done = subprocess.run(["bash", str(ROOT / "scripts" / "kafka.sh"), *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"demo: kafka.sh {args[0]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _show(title: str, records: list[bytes], n: int, width: int = 300) -> None:
    print(f"\n== {title}: {len(records)} records")
    for value in records[:n]:
        text = value.decode()
        print("   " + (text if len(text) <= width else text[:width] + " ..."))


def main() -> int:
    print("== starting a local single-node Kafka broker (KRaft, jars from Maven Central in .kafka/libs)")
    _kafka("up", str(STATE))
    bootstrap = (STATE / "bootstrap").read_text().strip()
    env = {
        "LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "LOGSCRUB_MASTER_KEY_FILE": str(_master_key_file()),
        "LOGSCRUB_AGGREGATE__ALLOWED_LATENESS": "3s",
        "LOGSCRUB_METRICS__PORT": "0",  # the worker and the shipper run side by side here
    }
    os.environ.update(env)
    cfg = load(None)
    worker = None
    try:
        print(f"== broker at {bootstrap}; logscrub topics apply")
        with admin_client(cfg.kafka) as admin:
            for line in apply_topics(cfg, admin):
                print("   " + line)
        log = STATE / "worker.log"
        print(f"== logscrub worker (in the background, log in {log.relative_to(ROOT)})")
        with open(log, "wb") as out:
            worker = subprocess.Popen([sys.executable, "-m", "logscrub", "worker"], env=os.environ.copy(),
                                      stdout=out, stderr=subprocess.STDOUT)
        print(f"== logscrub ship {SAMPLE.relative_to(ROOT)}")
        stats = ship(cfg, [str(SAMPLE)], follow=False, offsets_path=None, stop=None)
        print(f"   {stats.lines_sent} of {stats.lines_read} lines acknowledged by the broker")

        t = cfg.topics
        deadline = time.monotonic() + 180
        while True:
            raw_zone = read_topic(cfg.kafka, t.security.name) + read_topic(cfg.kafka, t.rejected.name)
            seen = {orjson.loads(v)["src"] for v in raw_zone}
            if len(seen) >= stats.lines_sent:
                break
            if worker.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"demo: the worker did not account for every line ({len(seen)} of {stats.lines_sent})")
            time.sleep(0.5)
        expected, expected_events = _scrubbed(cfg)
        print(f"== waiting for the last windows and time slots to close ({cfg.aggregate.allowed_lateness}s without "
              f"new lines): {len(expected)} windows and {expected_events} events, as `logscrub scrub` publishes "
              "for the same file (events are held until their slot is over, then released shuffled)")
        while (_windows(read_topic(cfg.kafka, t.traffic.name)) != expected
               or len(events := read_topic(cfg.kafka, t.events.name)) != expected_events):
            if time.monotonic() > deadline:
                sys.exit("demo: the worker's aggregates and events are not the ones scrub gives for the same file")
            time.sleep(0.5)

        rejected = read_topic(cfg.kafka, t.rejected.name)
        _show(f"{t.events.name} (one anonymized record per request)", events, 2)
        _show(f"{t.traffic.name} (per-minute aggregates and hourly/daily distinct visitors; values under "
              f"k={cfg.aggregate.k} clients fold into (other))", read_topic(cfg.kafka, t.traffic.name), 3)
        _show(f"{t.security.name} (raw lines, AES-GCM sealed per client under keys shared in {t.keys.name})",
              read_topic(cfg.kafka, t.security.name), 1)
        _show(f"{t.rejected.name} (lines that did not parse, sealed, reason in clear)", rejected, 1)
        sealed = len(seen) - len(rejected)
        print(f"\n== accounted: {len(events)} events + {sealed - len(events)} withheld + {len(rejected)} rejected = "
              f"{stats.lines_sent} lines shipped (a withheld line is sealed only: its event, or its counts, would have "
              "followed one client)")
        print("\n== a responder's search (logscrub security search --status 500 --output table), audited in "
              f"{t.audit.name}")
        subprocess.run([sys.executable, "-m", "logscrub", "security", "search", "--status", "500", "--output", "table"],
                       check=True)
        return 0
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=30)
        _kafka("down", str(STATE))


def _windows(records: list[bytes]) -> dict[tuple[str, str], int]:
    """(span, window start) -> requests of the published base windows, and the rollups' windows."""
    out = {}
    for value in records:
        r = orjson.loads(value)
        if r["dimension"] == "total":
            out[(r["span"], r["window_start"])] = r.get("requests", 0)
    return out


def _scrubbed(cfg: Config) -> tuple[dict[tuple[str, str], int], int]:
    """The windows and the number of events ``logscrub scrub`` publishes for the sample."""
    out = STATE / "scrubbed"
    shutil.rmtree(out, ignore_errors=True)  # the demo's own scratch, from an earlier run
    summary = scrub(cfg, [str(SAMPLE)], out, progress=False, keys=STATE / "scrub-keys" / "keys.json")
    return _windows((out / f"{cfg.topics.traffic.name}.jsonl").read_bytes().splitlines()), summary.events


def _master_key_file() -> Path:
    """The demo's master key, made once (mode 0600) beside the broker's data: a real deployment keeps it apart."""
    path = STATE / "master.key"
    if not path.exists():
        STATE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "logscrub", "keys", "init", str(path)], check=True)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
