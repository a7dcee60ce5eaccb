"""The ship spool on its own: order, bounds, deletion, restart, damage, expiry, permissions, lock."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from logscrub.files import spool as spool_module
from logscrub.files.spool import Spool, SpoolBusy, SpoolError

MiB = 1 << 20


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def lines(n: int, start: int = 0, size: int = 100) -> list[bytes]:
    return [(b"%08d " % i).ljust(size, b"x") for i in range(start, start + n)]


def opened(path: Path, max_bytes: int = 4 * MiB, max_age: float = 7 * 86400, clock: Clock | None = None) -> Spool:
    s = Spool(path, max_bytes, max_age, clock=clock or Clock())
    s.open()
    return s


def files_in(path: Path) -> list[str]:
    return sorted(n for n in os.listdir(path) if n != spool_module.LOCK_NAME)


def take_all(s: Spool) -> list[bytes]:
    out = []
    while batch := s.take(1000):
        for segment, data in batch:
            out.append(data)
            s.done(segment)
    return out


def test_lines_come_back_in_order_across_segments_and_are_deleted_once_done(tmp_path: Path) -> None:
    s = opened(tmp_path / "spool", max_bytes=2 * MiB)  # 128 KiB segments
    sent = lines(5000)
    for data in sent:
        assert s.append(data) is not None
    assert s.segments > 1 and s.pending == s.unfinished == 5000
    taken = s.take(3000)
    assert [d for _, d in taken] == sent[:3000] and s.pending == 2000
    for segment, _ in taken[:2999]:
        s.done(segment)
    first = taken[0][0]
    assert first.deleted and not first.path.exists()  # acknowledged: gone from disk at once
    assert s.unfinished == 2001
    assert take_all(s) == sent[3000:]
    s.done(taken[2999][0])
    assert s.unfinished == 0 and s.bytes == 0 and files_in(tmp_path / "spool") == []  # nothing raw left


def test_the_spool_is_bounded_and_room_comes_back_when_segments_are_done(tmp_path: Path) -> None:
    s = opened(tmp_path / "spool", max_bytes=1 * MiB)
    accepted = 0
    while s.append(lines(1, accepted)[0]) is not None:
        accepted += 1
    assert s.bytes <= 1 * MiB and accepted > 9000
    on_disk = sum(p.stat().st_size for p in (tmp_path / "spool").iterdir() if p.name != "lock")
    s.sync()
    assert sum(p.stat().st_size for p in (tmp_path / "spool").iterdir() if p.name != "lock") == s.bytes >= on_disk
    first = s.take(1)[0][0]
    for segment, _ in [(first, None)] + s.take(first.lines - 1):
        s.done(segment)
    assert first.deleted and s.append(b"after") is not None


def test_a_restart_finds_the_lines_in_order_sealed_or_not(tmp_path: Path) -> None:
    path = tmp_path / "spool"
    s = opened(path, max_bytes=2 * MiB)
    sent = lines(3000)
    for data in sent:
        s.append(data)
    s.sync()
    s.close()
    assert all(n.endswith(".seg") for n in files_in(path))
    again = opened(path, max_bytes=2 * MiB)
    assert again.unfinished == again.pending == 3000
    assert take_all(again) == sent
    again.close()
    assert files_in(path) == []


def test_a_crash_mid_line_keeps_every_whole_line_written_before_it(tmp_path: Path) -> None:
    path = tmp_path / "spool"
    sent = lines(50)
    pid = os.fork()
    if pid == 0:  # a shipper that dies half way through writing a line
        try:
            s = opened(path)
            for data in sent:
                s.append(data)
            s.sync()
            (name,) = files_in(path)
            with open(path / name, "ab") as f:
                f.write(b"\x00\x00\x00\x64\x12\x34")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert files_in(path)[0].endswith(".open")
    again = opened(path)
    assert take_all(again) == sent
    assert files_in(path) == []


def test_a_damaged_segment_is_counted_as_lost_not_sent(tmp_path: Path) -> None:
    path = tmp_path / "spool"
    s = opened(path, max_bytes=2 * MiB)
    for data in lines(3000):
        s.append(data)
    s.close()
    first = path / files_in(path)[0]
    raw = bytearray(first.read_bytes())
    raw[-5] ^= 0xFF  # one flipped byte in its last line
    first.write_bytes(bytes(raw))
    again = opened(path, max_bytes=2 * MiB)
    got = take_all(again)
    assert again.lost == 1 and len(got) == 2999 and again.unfinished == 0


def test_segments_older_than_the_window_are_deleted_unsent(tmp_path: Path) -> None:
    clock = Clock()
    s = opened(tmp_path / "spool", max_age=3600, clock=clock)
    for data in lines(10):
        s.append(data)
    clock.now += 400  # past the segment age: the next line starts a new segment
    for data in lines(5, 10):
        s.append(data)
    assert s.segments == 2
    clock.now += 3600 - 400
    assert s.expire() == 10
    assert s.pending == s.unfinished == 5 and s.segments == 1
    assert [d for _, d in s.take(10)] == lines(5, 10)
    clock.now += 3600
    s.close()
    again = opened(tmp_path / "spool", max_age=3600, clock=clock)  # a restart after the window
    assert again.expire() == 5 and files_in(tmp_path / "spool") == []


def test_expiry_counts_taken_lines_as_the_callers_and_later_dones_are_harmless(tmp_path: Path) -> None:
    clock = Clock()
    s = opened(tmp_path / "spool", max_age=60, clock=clock)
    for data in lines(10):
        s.append(data)
    held = s.take(4)
    clock.now += 61
    assert s.expire() == 6 and s.unfinished == 0
    for segment, _ in held:
        s.done(segment)  # acknowledged after all: nothing left to count
    assert s.unfinished == 0


def test_lines_already_being_sent_can_be_spilled_and_are_not_taken_again(tmp_path: Path) -> None:
    s = opened(tmp_path / "spool")
    spilled = [s.append(d, oldest=1.0, taken=True) for d in lines(3)]
    for data in lines(2, 3):
        s.append(data)
    assert s.pending == 2 and s.unfinished == 5
    assert [d for _, d in s.take(10)] == lines(2, 3)
    s.append(b"waits")
    with pytest.raises(ValueError):
        s.append(b"would pass it", taken=True)
    for segment in spilled:
        assert segment is not None
        s.done(segment)


def test_files_are_private_and_the_directory_too(tmp_path: Path) -> None:
    path = tmp_path / "a" / "spool"
    old = os.umask(0)
    try:
        s = opened(path)
        s.append(b"raw line")
        s.sync()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for name in os.listdir(path):
        assert stat.S_IMODE((path / name).stat().st_mode) == 0o600, name


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda p: (p.mkdir(), p.chmod(0o755)), r"open to other users \(mode 0755\)"),
        (lambda p: p.write_text("x"), "not a directory|cannot create"),
        (lambda p: (p.mkdir(mode=0o700), (p / "notes.txt").write_text("x")), "holds 'notes.txt'"),
    ],
    ids=["wide-mode", "a-file", "foreign-file"],
)
def test_an_unusable_directory_is_refused_naming_the_setting(tmp_path: Path, prepare, message) -> None:
    path = tmp_path / "spool"
    prepare(path)
    with pytest.raises(SpoolError, match=f"ship.spool_dir: .*({message})"):
        opened(path)


def test_one_process_at_a_time(tmp_path: Path) -> None:
    first = opened(tmp_path / "spool")
    with pytest.raises(SpoolBusy, match=f"pid {os.getpid()}"):
        opened(tmp_path / "spool")
    first.close()
    opened(tmp_path / "spool").close()


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"LOGSCRUB_SHIP__SPOOL_MAX_BYTES": "1000"}, "ship.spool_max_bytes"),
        ({"LOGSCRUB_SHIP__SPOOL_MAX_BYTES": "-1"}, "ship.spool_max_bytes"),
        ({"LOGSCRUB_SHIP__SPOOL_DIR": "spool"}, "ship.spool_dir"),  # relative: would move with the cwd
    ],
)
def test_spool_settings_are_checked_at_start_up_naming_the_key(env: dict[str, str], key: str) -> None:
    from logscrub.config import ConfigError, load

    with pytest.raises(ConfigError) as e:
        load(None, env=env)
    assert e.value.key == key
    cfg = load(None, env={"LOGSCRUB_SHIP__SPOOL_MAX_BYTES": "0", "LOGSCRUB_SHIP__SPOOL_DIR": "~/s"})
    assert (cfg.ship.spool_max_bytes, cfg.ship.spool_dir) == (0, "~/s")  # 0: no spool at all
