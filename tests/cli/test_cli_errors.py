"""Every user mistake the CLI can meet: one line on stderr, a documented exit status, never a traceback.

Each case runs the real command in a fresh process, so whatever a library prints, and whatever the
interpreter prints at exit, is seen too.
"""

from __future__ import annotations

import gzip
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "access.log"
MASTER = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # base64 of 32 bytes, for commands that want one


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Case:
    id: str
    argv: list[str]
    status: int
    line: str  # regex for the one line on stderr; "" for no output at all
    env: dict[str, str] = field(default_factory=dict)
    stdin: str = "devnull"  # devnull, tty, or the name of a file in the work directory


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGSCRUB_")}
    return {**env, "LOGSCRUB_METRICS__PORT": "0", **extra}


def run_cli(argv: list[str], cwd: Path, env: dict[str, str], stdin: str = "devnull") -> tuple[int, str, str]:
    cmd = [sys.executable, "-m", "logscrub", *argv]
    if stdin == "tty":
        primary, secondary = pty.openpty()
        try:
            done = subprocess.run(cmd, cwd=cwd, env=env, stdin=secondary, capture_output=True, timeout=60)
        finally:
            os.close(primary)
            os.close(secondary)
    else:
        source = subprocess.DEVNULL if stdin == "devnull" else open(cwd / stdin, "rb")  # noqa: SIM115
        try:
            done = subprocess.run(cmd, cwd=cwd, env=env, stdin=source, capture_output=True, timeout=60)
        finally:
            if source is not subprocess.DEVNULL:
                source.close()
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli-errors")
    (d / "existing-file").write_text("x")
    (d / "a-dir").mkdir()
    (d / "access.log").write_bytes(SAMPLE.read_bytes()[:20_000])
    whole = gzip.compress(SAMPLE.read_bytes())
    (d / "truncated.log.gz").write_bytes(whole[: len(whole) // 2])
    (d / "bad.log.gz").write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    (d / "good.yaml").write_text("ip:\n  mode: drop\n")
    (d / "bad.yaml").write_text("ip:\n  mode: hashed\n")
    (d / "master.key").write_text(MASTER + "\n")
    return d


PORT = closed_port()
DOWN = {"LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{PORT}", "LOGSCRUB_MASTER_KEY": MASTER}
BROKER_LINE = rf"logscrub: no Kafka broker answered at 127\.0\.0\.1:{PORT} \(kafka\.bootstrap_servers\): .*connection refused"
TYPO = {"LOGSCRUB_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}
TYPO_LINE = (r"logscrub: config: LOGSCRUB_KAFKA_BOOTSTRAP_SERVERS: not a logscrub variable; "
             r"did you mean LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS\?")

CASES = [
    # files and directories
    Case("scrub --out an existing file", ["scrub", "access.log", "--out", "existing-file"], 2,
         r"logscrub: --out existing-file exists and is not a directory .*"),
    Case("scrub a directory", ["scrub", "a-dir", "--out", "out1"], 1,
         r"logscrub: a-dir is a directory, not a log file .*"),
    Case("mask a directory", ["mask", "a-dir"], 1, r"logscrub: a-dir is a directory, not a log file .*"),
    Case("scrub a missing file", ["scrub", "nope.log", "--out", "out2"], 1, r"logscrub: no such file: nope\.log"),
    Case("mask a missing file", ["mask", "nope.log"], 1, r"logscrub: no such file: nope\.log"),
    Case("ship a directory", ["ship", "a-dir"], 1, r"logscrub: a-dir is a directory, not a log file .*", env=DOWN),
    Case("ship --follow a directory", ["ship", "--follow", "a-dir"], 1,
         r"logscrub: a-dir is a directory, not a log file .*", env=DOWN),
    Case("scrub a truncated gzip", ["scrub", "truncated.log.gz", "--out", "out3"], 1,
         r"logscrub: truncated\.log\.gz ends in the middle of its gzip data \(truncated\?\)"),
    Case("mask a truncated gzip", ["mask", "truncated.log.gz", "--quiet"], 1,
         r"logscrub: truncated\.log\.gz ends in the middle of its gzip data \(truncated\?\)"),
    Case("mask a broken gzip", ["mask", "bad.log.gz"], 1, r"logscrub: bad\.log\.gz is not a readable gzip file .*"),
    Case("mask --out a directory", ["mask", "access.log", "--out", "a-dir"], 2,
         r"logscrub: --out a-dir is a directory; mask appends to one file"),
    Case("mask --out in no directory", ["mask", "access.log", "--out", "no/such/dir/x.log"], 2,
         r"logscrub: --out no/such/dir/x\.log: no directory no/such/dir"),
    Case("mask nginx log_format", ["mask", "access.log", "--format", "nginx"], 2,
         r"logscrub: mask does not support input\.format nginx: .* escape=json .*"),
    Case("scrub with a GeoIP file that is none", ["scrub", "access.log", "--out", "out6"], 2,
         r"logscrub: .*good\.yaml is not a valid MaxMind DB file", env={"LOGSCRUB_GEOIP__COUNTRY_DB": "good.yaml"}),
    Case("keys init over a key", ["keys", "init", "existing-file"], 2,
         r"logscrub: existing-file exists; a master key is never overwritten .*"),
    # nothing piped in on a terminal
    Case("scrub with a terminal on stdin", ["scrub", "--out", "out4"], 2,
         r"logscrub: no input: give log files, or pipe a log in .*", stdin="tty"),
    Case("mask with a terminal on stdin", ["mask"], 2, r"logscrub: no input: give log files, or pipe a log in .*",
         stdin="tty"),
    Case("ship with a terminal on stdin", ["ship"], 2, r"logscrub: no input: give log files, or pipe a log in .*",
         stdin="tty"),
    # config
    Case("config check --config", ["config", "check", "--config", "good.yaml"], 0, ""),
    Case("config check --config, bad", ["config", "check", "--config", "bad.yaml"], 2,
         r"logscrub: config: ip\.mode: 'hashed' is not one of truncate, pseudonym, drop"),
    Case("config check, two configs", ["config", "check", "good.yaml", "--config", "bad.yaml"], 2,
         r"logscrub: two configs given \(good\.yaml and --config bad\.yaml\): give one"),
    Case("config check --config missing", ["config", "check", "--config", "none.yaml"], 2,
         r"logscrub: config: \(file\): cannot read none\.yaml: No such file or directory"),
    Case("typo variable: config check", ["config", "check"], 2, TYPO_LINE, env=TYPO),
    Case("typo variable: scrub", ["scrub", "access.log", "--out", "out5"], 2, TYPO_LINE, env=TYPO),
    Case("typo variable: mask", ["mask", "access.log"], 2, TYPO_LINE, env=TYPO),
    Case("typo variable: topics check", ["topics", "check"], 2, TYPO_LINE, env=TYPO),
    Case("typo variable: worker", ["worker", "--log-level", "ERROR"], 2, TYPO_LINE, env=TYPO),
    # a broker that is down (a closed port)
    Case("broker down: topics check", ["topics", "check"], 2, BROKER_LINE, env=DOWN),
    Case("broker down: topics apply", ["topics", "apply"], 2, BROKER_LINE, env=DOWN),
    Case("broker down: topics acl --apply", ["topics", "acl", "--apply"], 2, BROKER_LINE, env=DOWN),
    Case("broker down: worker", ["worker"], 2, BROKER_LINE, env=DOWN),
    Case("broker down: keys status", ["keys", "status"], 2, BROKER_LINE, env=DOWN),
    Case("broker down: security search", ["security", "search", "--ip", "192.0.2.1"], 2, BROKER_LINE, env=DOWN),
    Case("broker down: subject export", ["subject", "export", "--ip", "192.0.2.1"], 2, BROKER_LINE, env=DOWN),
    Case("broker down: unknown host", ["topics", "check"], 2,
         r"logscrub: no Kafka broker answered at kafka\.invalid:9092 \(kafka\.bootstrap_servers\): "
         r"kafka\.invalid: unknown host",
         env={"LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS": "kafka.invalid:9092"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_user_mistake_gives_one_line_and_a_status(work, case):
    status, out, err = run_cli(case.argv, work, clean_env(**case.env), case.stdin)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    if case.line:
        assert len(lines) == 1, err
        assert re.fullmatch(case.line, lines[0]), lines[0]
    else:
        assert lines == []
    assert status == case.status, err


def test_every_command_takes_config():
    """`--config` on every command that reads the config (keys init writes a file and reads none)."""
    from logscrub.cli.main import _parser

    def leaves(parser, path):
        subs = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not subs:
            yield path, parser
        for action in subs:
            for name, child in action.choices.items():
                yield from leaves(child, [*path, name])

    missing = [" ".join(path) for path, p in leaves(_parser(), []) if "--config" not in p._option_string_actions]
    assert missing == ["keys init"]


def test_a_reader_that_goes_away_ends_mask_quietly_with_141(work):
    big = work / "big.log"
    big.write_bytes(SAMPLE.read_bytes() * 4)
    proc = subprocess.Popen([sys.executable, "-m", "logscrub", "mask", str(big)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=clean_env())
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(200)  # what `| head -c 200` reads before it exits
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""


def test_a_reader_that_goes_away_ends_scrub_quietly(work, tmp_path):
    read, write = os.pipe()
    os.close(read)  # nobody will read the summary
    done = subprocess.run([sys.executable, "-m", "logscrub", "scrub", str(work / "access.log"), "--out",
                           str(tmp_path / "o")], stdout=write, stderr=subprocess.PIPE, env=clean_env())
    os.close(write)
    assert done.stderr == b"" and done.returncode == 141


def test_dash_on_a_terminal_says_what_it_waits_for(tmp_path):
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "logscrub", "mask", "-", "--quiet"], stdin=secondary,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    os.close(secondary)
    assert proc.stderr is not None and proc.stdout is not None
    ready, _, _ = select.select([proc.stderr], [], [], 30)
    assert ready, "nothing said on stderr while waiting for the terminal"
    assert proc.stderr.readline() == b"logscrub: reading log lines from the terminal; end with Ctrl-D\n"
    os.write(primary, SAMPLE.read_bytes().splitlines(keepends=True)[0] + b"\x04")
    out = proc.stdout.read()
    assert proc.wait(timeout=30) == 0 and out.count(b"\n") == 1
    os.close(primary)


def test_ship_prints_none_of_the_kafka_clients_messages(tmp_path):
    """kafka-python logged ~50 ERROR/WARNING lines per failed bootstrap before the command's own line."""
    log = tmp_path / "one.log"
    log.write_bytes(SAMPLE.read_bytes().splitlines(keepends=True)[0])
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "logscrub", "ship", str(log), "--log-level", "WARNING"],
                          cwd=tmp_path, capture_output=True, timeout=120, env=clean_env(**DOWN))
    err = done.stderr.decode()
    assert "Traceback" not in err
    assert not re.search(r"\b(ERROR|WARNING) (kafka|aiokafka)\b", err), err
    assert time.monotonic() - started < 100
    if done.returncode != 0:
        assert f"127.0.0.1:{PORT}" in err.splitlines()[-1]


def test_ship_takes_log_level():
    from logscrub.cli.main import _parser

    assert _parser().parse_args(["ship", "--log-level", "DEBUG", "x.log"]).log_level == "DEBUG"


def test_a_command_run_in_process_leaves_the_client_loggers_as_they_were(tmp_path):
    import logging

    from logscrub.cli.main import main

    logging.getLogger("kafka").setLevel(logging.DEBUG)
    try:
        assert main(["config", "check"]) == 0
        assert logging.getLogger("kafka").level == logging.DEBUG
    finally:
        logging.getLogger("kafka").setLevel(logging.NOTSET)
