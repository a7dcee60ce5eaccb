"""Following log files like tail -F, with positions that resume exactly where acknowledged lines end."""

from __future__ import annotations

import errno
import gzip
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logscrub.files.follow import Follower, Line, OffsetFile, OffsetFileError, Position


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    return path


@pytest.fixture
def followers() -> Iterator[list[Follower]]:
    opened: list[Follower] = []
    yield opened
    for f in opened:
        f.close()


def start(followers: list[Follower], *args, **kwargs) -> Follower:  # type: ignore[no-untyped-def]
    f = Follower(*args, **kwargs)
    followers.append(f)
    return f


def available(f: Follower) -> list[Line]:
    """Everything readable right now."""
    out: list[Line] = []
    while lines := f.read():
        out += lines
    return out


def data(lines: list[Line]) -> list[bytes]:
    return [line.data for line in lines]


def append(path: Path, content: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(content)


def test_lines_without_newlines_and_positions_after_each(log: Path, followers: list[Follower]) -> None:
    log.write_bytes(b"a\nbb\r\n\nccc\n")
    lines = available(start(followers, [str(log)], follow=False))
    inode = log.stat().st_ino
    assert data(lines) == [b"a", b"bb\r", b"", b"ccc"]
    assert [line.position for line in lines] == [
        Position(str(log), inode, n) for n in (2, 6, 7, 11)
    ]


def test_a_partial_line_is_held_until_its_newline(log: Path, followers: list[Follower]) -> None:
    log.write_bytes(b"one\ntw")
    f = start(followers, [str(log)], follow=True)
    assert data(available(f)) == [b"one"]
    append(log, b"o\nthr")
    lines = available(f)
    assert data(lines) == [b"two"]
    assert lines[0].position == Position(str(log), log.stat().st_ino, 8)
    assert not f.exhausted


def test_a_partial_last_line_is_a_line_at_eof_when_not_following(
    log: Path, followers: list[Follower]
) -> None:
    log.write_bytes(b"one\ntwo")
    f = start(followers, [str(log)], follow=False)
    lines = available(f)
    assert data(lines) == [b"one", b"two"]
    assert lines[-1].position is not None and lines[-1].position.offset == 7
    assert f.exhausted


def test_appended_lines_arrive_while_following(log: Path, followers: list[Follower]) -> None:
    f = start(followers, [str(log)], follow=True)
    assert available(f) == []
    for i in range(3):
        append(log, b"line %d\n" % i)
        assert data(available(f)) == [b"line %d" % i]


def test_rotation_by_rename_drains_the_old_file_then_reads_the_new_one(
    log: Path, followers: list[Follower]
) -> None:
    log.write_bytes(b"old 1\n")
    f = start(followers, [str(log)], follow=True)
    assert data(available(f)) == [b"old 1"]
    old_inode = log.stat().st_ino
    append(log, b"old 2\nold 3 no newline")  # written just before the rename, not read yet
    log.rename(log.with_name("access.log.1"))
    lines = available(f)  # moved away, no new file yet: the old one is still read
    assert data(lines) == [b"old 2"]
    log.write_bytes(b"new 1\n")
    lines += available(f)
    assert data(lines) == [b"old 2", b"old 3 no newline", b"new 1"]
    assert [line.position for line in lines] == [
        Position(str(log), old_inode, 12),
        Position(str(log), old_inode, 28),
        Position(str(log), log.stat().st_ino, 6),
    ]


def test_truncation_in_place_starts_over_at_zero(log: Path, followers: list[Follower]) -> None:
    log.write_bytes(b"first line\nsecond line\n")
    f = start(followers, [str(log)], follow=True)
    assert len(available(f)) == 2
    with log.open("r+b") as fh:  # logrotate copytruncate
        fh.truncate(0)
    append(log, b"x\n")
    lines = available(f)
    assert data(lines) == [b"x"]
    assert lines[0].position == Position(str(log), log.stat().st_ino, 2)


def test_a_missing_file_fails_unless_followed(tmp_path: Path, followers: list[Follower]) -> None:
    path = tmp_path / "later.log"
    with pytest.raises(FileNotFoundError):
        Follower([str(path)], follow=False)
    f = start(followers, [str(path)], follow=True)
    assert available(f) == []
    path.write_bytes(b"hello\n")
    assert data(available(f)) == [b"hello"]


def test_restart_from_a_saved_position_resumes_exactly(
    log: Path, tmp_path: Path, followers: list[Follower], monkeypatch: pytest.MonkeyPatch
) -> None:
    log.write_bytes(b"".join(b"line %d\n" % i for i in range(10)))
    first = available(start(followers, [str(log)], follow=False))
    acknowledged = first[3].position
    assert acknowledged is not None
    offsets = OffsetFile(tmp_path / "offsets.json")
    offsets.save({acknowledged.path: acknowledged})
    monkeypatch.chdir(tmp_path)  # the same file named relative to another directory: same position
    again = available(start(followers, ["access.log"], follow=False, saved=offsets.load()))
    assert data(again) == [b"line %d" % i for i in range(4, 10)]


def test_restart_finds_a_file_rotated_while_stopped(log: Path, followers: list[Follower]) -> None:
    log.write_bytes(b"a\nb\n")
    lines = available(start(followers, [str(log)], follow=False))
    saved = lines[0].position
    assert saved is not None
    append(log, b"c\n")
    log.rename(log.with_name("access.log.1"))
    log.write_bytes(b"d\n")
    again = available(start(followers, [str(log)], follow=True, saved={saved.path: saved}))
    assert data(again) == [b"b", b"c", b"d"]
    assert again[-1].position == Position(str(log), log.stat().st_ino, 2)


def test_restart_after_truncation_while_stopped_reads_from_zero(log: Path, followers: list[Follower]) -> None:
    log.write_bytes(b"long line one\nlong line two\n")
    saved = available(start(followers, [str(log)], follow=False))[-1].position
    assert saved is not None
    log.write_bytes(b"x\n")  # same inode, now shorter than the saved offset
    assert log.stat().st_ino == saved.inode
    assert data(available(start(followers, [str(log)], follow=False, saved={saved.path: saved}))) == [b"x"]


def test_a_file_named_twice_is_read_once(
    log: Path, followers: list[Follower], monkeypatch: pytest.MonkeyPatch
) -> None:
    log.write_bytes(b"a\n")
    monkeypatch.chdir(log.parent)
    assert data(available(start(followers, [str(log), "access.log"], follow=False))) == [b"a"]


def test_saved_positions_of_other_files_are_ignored(log: Path, followers: list[Follower]) -> None:
    log.write_bytes(b"a\n")
    other = Position("/elsewhere/other.log", log.stat().st_ino, 1)
    assert data(available(start(followers, [str(log)], follow=False, saved={other.path: other}))) == [b"a"]


_PIECES = st.one_of(st.binary(max_size=30), st.sampled_from([b"\n", b"ab\n", b"\n\n"]))


@settings(max_examples=60, deadline=None)
@given(pieces=st.lists(_PIECES, max_size=12))
def test_positions_never_run_ahead_of_the_lines_read(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[bytes]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "access.log"
    path.write_bytes(b"")
    content = b"".join(pieces)
    f = Follower([str(path)], follow=True)
    try:
        lines: list[Line] = []
        for piece in pieces:  # the writer appends in arbitrary pieces, we read in between
            append(path, piece)
            lines += available(f)
    finally:
        f.close()
    complete = content[: content.rfind(b"\n") + 1]
    trailing = content[len(complete) :]
    assert b"".join(line.data + b"\n" for line in lines) == complete
    for i, line in enumerate(lines):
        assert line.position is not None
        assert content[: line.position.offset].endswith(line.data + b"\n")
        g = Follower([str(path)], follow=False, saved={line.position.path: line.position})
        try:
            rest = available(g)
        finally:
            g.close()
        assert data(rest) == data(lines[i + 1 :]) + ([trailing] if trailing else [])


def test_long_lines_are_cut_but_positions_follow_the_whole_line(log: Path, followers: list[Follower]) -> None:
    long = b"x" * 200_000  # longer than a read chunk, so it spans several reads
    log.write_bytes(long + b"\nshort\n")
    lines = available(start(followers, [str(log)], follow=False, max_line=1000))
    assert data(lines) == [b"x" * 1000, b"short"]
    assert lines[0].position is not None and lines[0].position.offset == 200_001


def test_gzip_is_read_once_and_resumes_at_an_uncompressed_offset(
    tmp_path: Path, followers: list[Follower]
) -> None:
    path = tmp_path / "access.log.2.gz"
    path.write_bytes(gzip.compress(b"a\nbb\nccc\n"))
    f = start(followers, [str(path)], follow=True)
    lines = available(f)
    assert data(lines) == [b"a", b"bb", b"ccc"]
    assert f.exhausted  # even with follow: a compressed file is complete
    saved = lines[0].position
    assert saved is not None and saved.offset == 2
    again = start(followers, [str(path)], follow=False, saved={saved.path: saved})
    assert data(available(again)) == [b"bb", b"ccc"]


def test_stdin_is_read_until_eof_and_has_no_position(
    monkeypatch: pytest.MonkeyPatch, followers: list[Follower]
) -> None:
    r, w = os.pipe()
    monkeypatch.setattr(sys, "stdin", os.fdopen(r, "rb"))
    f = start(followers, ["-"], follow=True)
    os.write(w, b"one\ntw")
    assert data(available(f)) == [b"one"]
    assert not f.exhausted
    os.write(w, b"o")
    os.close(w)
    lines = available(f)
    assert data(lines) == [b"two"]
    assert lines[0].position is None
    assert f.exhausted
    sys.stdin.close()


def test_offset_file_round_trip_and_missing_file(tmp_path: Path) -> None:
    offsets = OffsetFile(tmp_path / "offsets.json")
    assert offsets.load() == {}
    a, b = Position("/var/log/a.log", 12, 345), Position("/var/log/b.log", 6, 0)
    positions = {a.path: a, b.path: b}
    offsets.save(positions)
    assert offsets.load() == positions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["offsets.json"]


def test_a_corrupt_offset_file_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "offsets.json"
    path.write_text('{"files": {"/a.log": {"inode": "x"}}}')
    with pytest.raises(OffsetFileError, match=str(path)):
        OffsetFile(path).load()


def test_an_unwritable_offset_file_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    path = blocker / "offsets.json"
    with pytest.raises(OffsetFileError, match=f"cannot write the offset file {path}: Not a directory"):
        OffsetFile(path).save({})


def test_disk_full_keeps_the_previous_offsets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "offsets.json"
    offsets = OffsetFile(path)
    before = {"/a.log": Position("/a.log", 1, 10)}
    offsets.save(before)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OffsetFileError, match=f"{path}: No space left on device"):
        offsets.save({"/a.log": Position("/a.log", 1, 99)})
    monkeypatch.undo()
    assert offsets.load() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["offsets.json"]
