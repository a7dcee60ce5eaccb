"""The logscrub command as a user runs it."""

import gzip
import re
import subprocess
import sys
from pathlib import Path

import orjson

from logscrub.cli.main import main

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "access.log"


def test_scrub_reads_gzip_and_accounts_for_every_line(tmp_path, capsys, state_home):
    gz = tmp_path / "access.log.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    out = tmp_path / "out"
    assert main(["scrub", str(gz), "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "format:     auto" in summary and "accounted:  yes" in summary
    n = len(SAMPLE.read_bytes().splitlines())
    events = (out / "analytics.events.jsonl").read_bytes().splitlines()
    rejected = (out / "logs.rejected.jsonl").read_bytes().splitlines()
    withheld = int(re.search(r"withheld: +(\d+)", summary).group(1))
    assert len(events) + withheld + len(rejected) == n
    assert len((out / "security.raw.jsonl").read_bytes().splitlines()) == len(events) + withheld
    assert {orjson.loads(r)["reason"] for r in rejected} <= {"no_match", "bad_time", "bad_status"}
    keys = state_home / "logscrub" / "keys.json"  # the default: never in --out
    assert keys.stat().st_mode & 0o777 == 0o600 and keys.parent.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in out.iterdir()) == [
        "analytics.events.jsonl", "analytics.traffic.jsonl", "logs.rejected.jsonl", "security.raw.jsonl"
    ]


def test_scrub_reads_stdin(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "logscrub", "scrub", "-", "--out", str(out), "--format", "combined"],
                          input=SAMPLE.read_bytes()[:20000], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert b"accounted:  yes" in done.stdout


def test_bad_config_fails_at_start_naming_the_key(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("ip:\n  mode: hashed\n")
    assert main(["scrub", str(SAMPLE), "--out", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "ip.mode" in err and "hashed" in err
    assert not (tmp_path / "o").exists()  # nothing ran


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    assert main(["scrub", str(tmp_path / "nope.log"), "--out", str(tmp_path / "o")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_help_lists_the_commands():
    done = subprocess.run([sys.executable, "-m", "logscrub", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for command in ("scrub", "worker", "ship", "topics"):
        assert command in done.stdout
