"""A bounded queue of raw lines on disk, for ``logscrub ship``: lines in order, deleted once acknowledged.

The spool is a directory (mode 0700, owned by the shipper, locked by one process at a time) of
segment files (mode 0600): ``<seq>.open`` while written, renamed ``<seq>-<lines>.seg`` once synced
and closed. A segment starts with a header (magic, the wall time of its oldest line) followed by
records (length, CRC-32, the line). Why the shipper spools, and what its positions mean then:
docs/architecture.md, "The shipper".
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from logscrub.errors import Refused

log = logging.getLogger("logscrub.spool")

MAGIC = b"LSSPOOL1"
_HEADER = struct.Struct(">8sd")  # magic, wall time of the segment's oldest line
_RECORD = struct.Struct(">II")  # line length, CRC-32 of the line
SEGMENT_MAX_BYTES = 8 << 20
SEGMENT_MIN_BYTES = 64 << 10
SEGMENT_MAX_AGE_S = 300.0  # a segment expires as a whole: this bounds how early its youngest line goes
LOCK_NAME = "lock"
_READ_CHUNK = 1 << 20
_OPEN = re.compile(r"(\d{16})\.open")
_SEALED = re.compile(r"(\d{16})-(\d+)\.seg")


class SpoolError(Refused):
    """The spool directory cannot be used; the message names the setting and the directory."""


class SpoolBusy(Exception):
    """Another process holds the spool's lock."""

    def __init__(self, directory: Path, pid: str) -> None:
        super().__init__(f"the spool {directory} is in use by another process (pid {pid or 'unknown'})")
        self.pid = pid


class Segment:
    """One segment file and the count of its lines handed out (``taken``) and finished (``done``)."""

    __slots__ = ("seq", "path", "oldest", "created", "lines", "taken", "done", "size", "deleted")

    def __init__(self, seq: int, path: Path, oldest: float, created: float) -> None:
        self.seq = seq
        self.path = path
        self.oldest = oldest  # wall time of its oldest line: the segment expires from it
        self.created = created
        self.lines = 0
        self.taken = 0
        self.done = 0  # acknowledged, or dropped by the caller
        self.size = _HEADER.size
        self.deleted = False


class Spool:
    """Lines appended at the tail, taken in order from the head, deleted by segment once all are done.

    ``max_age`` bounds a line's life in the spool (the security window): ``expire`` deletes whole
    segments whose oldest line is older, unsent.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        max_bytes: int,
        max_age: float,
        setting: str = "ship.spool_dir",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(os.path.expanduser(directory))
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.setting = setting
        self.clock = clock
        self.segment_bytes = min(max(max_bytes // 16, SEGMENT_MIN_BYTES), SEGMENT_MAX_BYTES)
        self.segment_age = min(SEGMENT_MAX_AGE_S, max(max_age / 10, 1.0))
        self.bytes = 0  # on disk, the unwritten buffer included
        self.pending = 0  # lines appended and not yet taken
        self.unfinished = 0  # lines appended and not yet done
        self.lost = 0  # lines that could not be read back from a damaged segment (counted, then forgotten)
        self._segments: list[Segment] = []
        self._next_seq = 1
        self._writer: Segment | None = None
        self._wfd: int | None = None
        self._buffer = bytearray()
        self._reader: Segment | None = None
        self._rfd: int | None = None
        self._roff = 0
        self._lock_fd: int | None = None
        self._dir_dirty = False

    # --- opening and closing ---

    def open(self) -> int:
        """Make or check the directory, lock it and load what an earlier run left; returns those lines.

        SpoolError when the directory cannot be used; SpoolBusy while another process holds it.
        """
        self._prepare_directory()
        self._lock()
        try:
            self._load()
        except BaseException:
            self.close()
            raise
        return self.unfinished

    def _refuse(self, problem: str) -> SpoolError:
        return SpoolError(f"config: {self.setting}: {problem}")

    def _prepare_directory(self) -> None:
        path = self.directory
        created = not path.exists()
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if created:
                os.chmod(path, 0o700)  # mkdir's mode is cut by the umask, never widened: make it exact
            st = path.stat()
        except OSError as e:
            raise self._refuse(f"cannot create or open {path} ({e.strerror or type(e).__name__})") from None
        if not path.is_dir():
            raise self._refuse(f"{path} is not a directory")
        if st.st_uid != os.geteuid():
            raise self._refuse(f"{path} belongs to another user (uid {st.st_uid}); the spool holds raw log lines")
        if st.st_mode & 0o077:
            raise self._refuse(
                f"{path} is open to other users (mode {st.st_mode & 0o777:04o}); the spool holds raw log lines: "
                "chmod 700 it, or give the spool a directory of its own"
            )
        if not os.access(path, os.W_OK | os.X_OK):
            raise self._refuse(f"{path} is not writable")

    def _lock(self) -> None:
        path = self.directory / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise self._refuse(f"cannot create {path} ({e.strerror or type(e).__name__})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise SpoolBusy(self.directory, pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _load(self) -> None:
        found: list[tuple[int, str, int | None]] = []
        for name in sorted(os.listdir(self.directory)):
            if name == LOCK_NAME:
                continue
            if m := _SEALED.fullmatch(name):
                found.append((int(m.group(1)), name, int(m.group(2))))
            elif m := _OPEN.fullmatch(name):
                found.append((int(m.group(1)), name, None))
            else:
                raise self._refuse(
                    f"{self.directory} holds {name!r}, which logscrub did not write; give the spool a directory "
                    "of its own"
                )
        for seq, name, lines in sorted(found):
            segment = self._load_segment(seq, self.directory / name, lines)
            if segment is not None:
                self._segments.append(segment)
                self.bytes += segment.size
                self.pending += segment.lines
                self.unfinished += segment.lines
            self._next_seq = seq + 1
        if self._dir_dirty:
            self._sync_directory()

    def _load_segment(self, seq: int, path: Path, lines: int | None) -> Segment | None:
        """A segment of an earlier run; an unsealed one is cut after its last whole record and sealed."""
        fd = os.open(path, os.O_RDWR)
        try:
            header = os.pread(fd, _HEADER.size, 0)
            magic, oldest = _HEADER.unpack(header) if len(header) == _HEADER.size else (b"", 0.0)
            if magic != MAGIC:
                log.error("spool: %s has no valid header; deleted (%s lines lost)", path.name, lines or "its")
                self.lost += lines or 0
                os.unlink(path)
                self._dir_dirty = True
                return None
            segment = Segment(seq, path, oldest, self.clock())
            if lines is None:
                count, end = _scan(fd)
                if end < os.fstat(fd).st_size:
                    log.warning("spool: %s ended in a partly written line (a crash); cut after line %d",
                                path.name, count)
                    os.ftruncate(fd, end)
                os.fsync(fd)
                lines = count
                sealed = path.with_name(f"{seq:016d}-{count}.seg")
                os.replace(path, sealed)
                self._dir_dirty = True
                segment.path = sealed
            segment.lines = lines
            segment.size = os.fstat(fd).st_size
            return segment
        finally:
            os.close(fd)

    def close(self) -> None:
        """Seal what was written (synced to disk) and release the directory for the next process."""
        if self._writer is not None:
            self._seal()
        if self._dir_dirty and self._lock_fd is not None:
            self._sync_directory()
        self._close_reader()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    # --- writing ---

    def append(self, data: bytes, oldest: float | None = None, taken: bool = False) -> Segment | None:
        """Write a line at the tail; None when the spool has no room for it.

        ``oldest``: when the line was read, if earlier than now. ``taken``: the caller already holds
        it (it is being sent), which is allowed only when no line waits to be taken.
        """
        now = self.clock()
        oldest = now if oldest is None else oldest
        size = _RECORD.size + len(data)
        writer = self._writer
        roll = (
            writer is None
            or writer.size >= self.segment_bytes
            or now - writer.created >= self.segment_age
            or oldest < writer.oldest
        )
        if self.bytes + size + (_HEADER.size if roll else 0) > self.max_bytes:
            return None
        if taken and self.pending:
            raise ValueError("a taken line may be appended only when no line waits to be taken")
        if roll:
            writer = self._start_segment(oldest, now)
        assert writer is not None
        self._buffer += _RECORD.pack(len(data), zlib.crc32(data))
        self._buffer += data
        writer.lines += 1
        writer.size += size
        self.bytes += size
        self.unfinished += 1
        if taken:
            writer.taken += 1
            if self._reader is not writer:
                self._close_reader()
            self._reader, self._roff = writer, writer.size
        else:
            self.pending += 1
        if len(self._buffer) >= _READ_CHUNK:
            self._flush()
        return writer

    def sync(self) -> None:
        """Everything appended so far is on disk (and the names of new segments with it)."""
        self._flush()
        if self._wfd is not None:
            os.fsync(self._wfd)
        if self._dir_dirty:
            self._sync_directory()

    def _start_segment(self, oldest: float, now: float) -> Segment:
        if self._writer is not None:
            self._seal()
        seq = self._next_seq
        self._next_seq += 1
        path = self.directory / f"{seq:016d}.open"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        segment = Segment(seq, path, oldest, now)
        self._wfd = fd
        self._writer = segment
        self._buffer += _HEADER.pack(MAGIC, oldest)
        self._segments.append(segment)
        self.bytes += _HEADER.size
        self._dir_dirty = True
        return segment

    def _flush(self) -> None:
        if self._buffer and self._wfd is not None:
            with memoryview(self._buffer) as view:
                written = 0
                while written < len(view):
                    written += os.write(self._wfd, view[written:])
            self._buffer.clear()

    def _seal(self) -> None:
        """Close the segment being written: synced, and renamed with its line count."""
        writer, fd = self._writer, self._wfd
        assert writer is not None and fd is not None
        self._flush()
        os.fsync(fd)
        os.close(fd)
        self._writer = self._wfd = None
        sealed = writer.path.with_name(f"{writer.seq:016d}-{writer.lines}.seg")
        os.replace(writer.path, sealed)
        writer.path = sealed
        self._dir_dirty = True

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._dir_dirty = False

    # --- reading back ---

    def take(self, limit: int) -> list[tuple[Segment, bytes]]:
        """Up to ``limit`` lines from the head, in order, each with its segment (for ``done``)."""
        out: list[tuple[Segment, bytes]] = []
        while len(out) < limit and self.pending:
            segment = self._head()
            if segment is None:
                break
            if segment is self._writer:
                self._flush()
            if self._reader is not segment:
                self._close_reader()
                self._reader, self._roff = segment, _HEADER.size
            if self._rfd is None:
                try:
                    self._rfd = os.open(segment.path, os.O_RDONLY)
                except FileNotFoundError:
                    self._damaged(segment, "is missing")
                    continue
            self._read(segment, limit - len(out), out)
        return out

    def _head(self) -> Segment | None:
        for segment in self._segments:
            if segment.taken < segment.lines:
                return segment
        return None

    def _read(self, segment: Segment, limit: int, out: list[tuple[Segment, bytes]]) -> None:
        assert self._rfd is not None
        chunk = os.pread(self._rfd, _READ_CHUNK, self._roff)
        at, got = 0, 0
        while got < limit and segment.taken < segment.lines:
            if len(chunk) - at < _RECORD.size:
                if at == 0:
                    self._damaged(segment, "ends early")
                    return
                break
            length, crc = _RECORD.unpack_from(chunk, at)
            end = at + _RECORD.size + length
            if end > len(chunk):
                if at == 0:  # one line longer than a chunk
                    chunk = os.pread(self._rfd, end, self._roff)
                    if len(chunk) < end:
                        self._damaged(segment, "ends early")
                        return
                else:
                    break
            data = bytes(chunk[at + _RECORD.size : end])
            if zlib.crc32(data) != crc:
                self._damaged(segment, "holds a damaged line")
                return
            out.append((segment, data))
            segment.taken += 1
            self.pending -= 1
            got += 1
            at = end
        self._roff += at

    def _damaged(self, segment: Segment, what: str) -> None:
        """The rest of a segment cannot be read: count its lines as lost and finish them."""
        rest = segment.lines - segment.taken
        log.error("spool: %s %s; its last %d lines are lost", segment.path.name, what, rest)
        self.lost += rest
        self.pending -= rest
        segment.taken = segment.lines
        self.done(segment, rest)

    def _close_reader(self) -> None:
        if self._rfd is not None:
            os.close(self._rfd)
        self._rfd = None
        self._reader = None

    # --- finishing ---

    def done(self, segment: Segment, n: int = 1) -> None:
        """``n`` lines of ``segment`` were acknowledged (or dropped): a segment all done is deleted."""
        if segment.deleted:
            return
        segment.done += n
        self.unfinished -= n
        if segment.done >= segment.lines and segment.taken >= segment.lines:
            self._delete(segment)

    def expire(self) -> int:
        """Delete the segments whose oldest line is older than ``max_age``; returns their lines not yet taken.

        Lines already taken are the caller's to drop (it holds them); they are no longer on disk.
        """
        limit = self.clock() - self.max_age
        dropped = 0
        for segment in [s for s in self._segments if s.oldest <= limit]:
            rest = segment.lines - segment.taken
            dropped += rest
            self.pending -= rest
            self.unfinished -= segment.lines - segment.done
            self._delete(segment)
        return dropped

    def _delete(self, segment: Segment) -> None:
        if segment is self._writer:
            assert self._wfd is not None
            os.close(self._wfd)
            self._writer = self._wfd = None
            self._buffer.clear()
        if segment is self._reader:
            self._close_reader()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(segment.path)
        segment.deleted = True
        self._segments.remove(segment)
        self.bytes -= segment.size
        self._dir_dirty = True

    @property
    def segments(self) -> int:
        return len(self._segments)


def _scan(fd: int) -> tuple[int, int]:
    """(whole records, offset after the last one) of a segment file, checking each record's CRC."""
    count, offset = 0, _HEADER.size
    while True:
        head = os.pread(fd, _RECORD.size, offset)
        if len(head) < _RECORD.size:
            return count, offset
        length, crc = _RECORD.unpack(head)
        data = os.pread(fd, length, offset + _RECORD.size)
        if len(data) < length or zlib.crc32(data) != crc:
            return count, offset
        count += 1
        offset += _RECORD.size + length
