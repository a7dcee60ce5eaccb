"""``logscrub mask`` as users run it: an Apache piped log, a pipeline stage, a file filter."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from logscrub.cli.main import main

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "access.log"
LINES = SAMPLE.read_bytes().splitlines(keepends=True)


def env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("LOGSCRUB_")}, **extra}


def start(*args: str, cwd: Path | None = None, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "logscrub", "mask", *args], cwd=cwd, env=env(),
                            stdin=subprocess.PIPE, **popen)


def read_line_within(stream, seconds: float) -> bytes:
    ready, _, _ = select.select([stream], [], [], seconds)
    assert ready, f"no line within {seconds}s: mask held it back"
    return stream.readline()


def wait_for_lines(path: Path, count: int, seconds: float) -> list[bytes]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lines = path.read_bytes().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"{path} has fewer than {count} lines after {seconds}s: mask held them back")


def test_a_piped_log_line_is_written_at_once_while_the_writer_stays_open():
    proc = start("--format", "combined", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for line in LINES[:3]:
            proc.stdin.write(line)
            proc.stdin.flush()
            out = read_line_within(proc.stdout, 10)
            assert out.endswith(b'"\n') and out.split(b" ")[0].endswith(b".0")
    finally:
        proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def test_as_apache_piped_log_into_a_file_appending_and_stopped_by_sigterm(tmp_path):
    target = tmp_path / "access.masked.log"
    target.write_bytes(b"an earlier line\n")  # a restarted piped logger must not truncate
    proc = start("--out", str(target), cwd=tmp_path, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(LINES[0])
    proc.stdin.flush()
    lines = wait_for_lines(target, 2, 10)
    assert lines[0] == b"an earlier line" and lines[1].startswith(b"198.18.15.0 - - [")
    proc.stdin.write(LINES[1])
    proc.stdin.flush()
    wait_for_lines(target, 3, 10)
    proc.send_signal(signal.SIGTERM)  # how Apache stops its piped loggers
    assert proc.wait(timeout=30) == 0
    assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["access.masked.log"]  # no key file: never stored


def test_a_summary_line_only_when_lines_did_not_parse(tmp_path, capsys):
    log = tmp_path / "in.log"
    log.write_bytes(b"".join(LINES[:10]) + b"not a log line\n")
    out = tmp_path / "out.log"
    assert main(["mask", str(log), "--out", str(out), "--format", "combined"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("mask: 11 lines (combined), 10 written, 1 not parsed and dropped")
    assert len(out.read_bytes().splitlines()) == 10
    assert main(["mask", str(log), "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    log.write_bytes(b"".join(LINES[:10]))
    assert main(["mask", str(log), "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""  # all parsed, stderr no terminal: nothing to say


def test_ip_flags_override_the_config(tmp_path, capsys):
    log = tmp_path / "in.log"
    log.write_bytes(LINES[0])
    assert main(["mask", str(log), "--ipv4-prefix", "16"]) == 0
    assert capsys.readouterr().out.startswith("198.18.0.0 - - [")
    assert main(["mask", str(log), "--ip-mode", "drop"]) == 0
    assert capsys.readouterr().out.startswith("- - - [")
    assert main(["mask", str(log), "--ipv4-prefix", "32"]) == 2  # validated like the config
    assert "ip.ipv4_prefix: 32 is outside 0..24" in capsys.readouterr().err


def run_with_terminal_stderr(argv: list[str], stdin: bytes | None = None, cwd: Path | None = None) -> bytes:
    """Run with stderr on a pseudo-terminal; returns what was drawn there."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a 120-column terminal
    proc = subprocess.Popen([sys.executable, "-m", "logscrub", *argv], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=secondary, env=env(), cwd=cwd)
    os.close(secondary)
    assert proc.stdin is not None
    if stdin is not None:
        proc.stdin.write(stdin)
    proc.stdin.close()
    drawn = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    proc.wait(timeout=60)
    os.close(primary)
    return drawn


@pytest.mark.parametrize("command", ["scrub", "mask"])
def test_progress_on_a_terminal_shows_a_percentage_for_files(tmp_path, command):
    big = tmp_path / "big.log"
    big.write_bytes(SAMPLE.read_bytes() * 3)
    out = ["--out", str(tmp_path / ("o" if command == "scrub" else "o.log"))]
    drawn = run_with_terminal_stderr([command, str(big), *out], cwd=tmp_path)
    assert b"%|" in drawn and b"B/s" in drawn, drawn[-400:]
    quiet = run_with_terminal_stderr([command, str(big), *out, "--quiet"], cwd=tmp_path)
    assert b"%|" not in quiet and b"lines/s" not in quiet


def test_progress_from_a_pipe_counts_lines(tmp_path):
    drawn = run_with_terminal_stderr(["mask", "--out", str(tmp_path / "o.log")], stdin=SAMPLE.read_bytes())
    assert b" lines" in drawn and b"%|" not in drawn, drawn[-400:]


def test_no_progress_when_stderr_is_no_terminal(tmp_path):
    done = subprocess.run([sys.executable, "-m", "logscrub", "scrub", str(SAMPLE), "--out", str(tmp_path / "o")],
                          capture_output=True, env=env())
    assert done.returncode == 0 and done.stderr == b""
