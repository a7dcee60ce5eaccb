"""Read log lines like ``tail -F``, with positions a restart resumes from exactly.

A position (path, inode, offset) is where the *next* line starts; the inode tells a rotated file
from the new one, a size below the offset a truncated one: the old content is read to its end first.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import os
import select
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from logscrub.errors import Refused
from logscrub.files.read import STDIN, is_gzip

CHUNK = 64 * 1024
PIPE_BYTES = 1 << 20  # asked for a pipe on stdin: more room for a writer while we are busy (Linux)


@dataclass(frozen=True)
class Position:
    path: str  # the input's absolute path (a rotated file keeps the name it was followed under)
    inode: int
    offset: int  # bytes (uncompressed for gzip) before the next unread line


@dataclass(frozen=True)
class Line:
    data: bytes  # without its newline; at most ``max_line`` bytes
    position: Position | None  # where to resume after this line; None for stdin


def input_key(name: str) -> str:
    """The key an input's position is saved under: its absolute path, so the cwd doesn't matter."""
    return name if name == STDIN else os.path.abspath(name)


class _Splitter:
    """Cuts a byte stream into lines, holding a partial last line (at most ``max_line`` bytes of it)."""

    def __init__(self, path: str | None, inode: int, offset: int, max_line: int) -> None:
        self.path = path
        self.inode = inode
        self.offset = offset  # bytes consumed so far, the held partial line included
        self.max_line = max_line
        self.partial = bytearray()
        self.partial_len = 0  # the partial line's full length; bytes past max_line are not kept

    def _position(self, offset: int) -> Position | None:
        return None if self.path is None else Position(self.path, self.inode, offset)

    def feed(self, data: bytes) -> list[Line]:
        lines: list[Line] = []
        base = self.offset
        start = 0
        while (nl := data.find(b"\n", start)) >= 0:
            piece = data[start:nl]
            if self.partial_len:
                piece = bytes(self.partial) + piece[: max(self.max_line - len(self.partial), 0)]
                self.partial.clear()
                self.partial_len = 0
            lines.append(Line(piece[: self.max_line], self._position(base + nl + 1)))
            start = nl + 1
        rest = len(data) - start
        if rest:
            room = self.max_line - len(self.partial)
            if room > 0:
                self.partial += data[start : start + room]
            self.partial_len += rest
        self.offset = base + len(data)
        return lines

    def finish(self) -> list[Line]:
        """The held partial line as a line of its own: its file is complete."""
        if not self.partial_len:
            return []
        line = Line(bytes(self.partial), self._position(self.offset))
        self.partial.clear()
        self.partial_len = 0
        return [line]


class _Input:
    done = False

    def read(self) -> list[Line]:
        """The lines of the next chunk that completes any; [] when none is complete yet."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the input's file descriptors."""


class _Stdin(_Input):
    def __init__(self, max_line: int) -> None:
        self.fd = sys.stdin.fileno()
        self.lines = _Splitter(None, 0, 0, max_line)
        if stat.S_ISFIFO(os.fstat(self.fd).st_mode):
            with contextlib.suppress(OSError):  # best effort: the limit is /proc/sys/fs/pipe-max-size
                fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    def read(self) -> list[Line]:
        while not self.done and select.select([self.fd], [], [], 0)[0]:
            data = os.read(self.fd, CHUNK)
            if not data:
                self.done = True
                return self.lines.finish()
            if lines := self.lines.feed(data):
                return lines
        return []


class _Gzip(_Input):
    def __init__(self, path: str, fd: int, saved: Position | None, max_line: int) -> None:
        inode = os.fstat(fd).st_ino
        self.stream = gzip.GzipFile(fileobj=os.fdopen(fd, "rb"))
        offset = saved.offset if saved is not None and saved.inode == inode else 0
        self.stream.seek(offset)
        self.lines = _Splitter(path, inode, self.stream.tell(), max_line)

    def read(self) -> list[Line]:
        while not self.done:
            data = self.stream.read(CHUNK)
            if not data:
                self.done = True
                return self.lines.finish()
            if lines := self.lines.feed(data):
                return lines
        return []

    def close(self) -> None:
        self.stream.close()


class _OpenFile:
    def __init__(self, fd: int, path: str, offset: int, max_line: int) -> None:
        self.fd = fd
        self.inode = os.fstat(fd).st_ino
        os.lseek(fd, offset, os.SEEK_SET)
        self.lines = _Splitter(path, self.inode, offset, max_line)

    def read(self) -> list[Line] | None:
        """The lines of the next chunk that completes any; None at end of file."""
        while data := os.read(self.fd, CHUNK):
            if lines := self.lines.feed(data):
                return lines
        return None


class _File(_Input):
    """A plain file, read to its end once or followed across rotation and truncation."""

    def __init__(
        self, path: str, fd: int | None, saved: Position | None, follow: bool, max_line: int
    ) -> None:
        self.path = path
        self.follow = follow
        self.max_line = max_line
        self.current: _OpenFile | None = None  # None: a followed file that is not there yet
        self.after_rotated: int | None = None  # the new file, read once the rotated one is drained
        if saved is not None and (fd is None or os.fstat(fd).st_ino != saved.inode):
            rotated = _open_by_inode(os.path.dirname(path), saved.inode, saved.offset)
            if rotated is not None:
                self.current = _OpenFile(rotated, path, saved.offset, max_line)
                self.after_rotated = fd
                return
            saved = None
        if fd is not None:  # a file now smaller than the saved offset was truncated: read it from 0
            offset = saved.offset if saved is not None and saved.offset <= os.fstat(fd).st_size else 0
            self.current = _OpenFile(fd, path, offset, max_line)

    def read(self) -> list[Line]:
        while not self.done:
            if self.current is None:
                fd = _open_if_there(self.path)
                if fd is None:
                    return []
                self.current = _OpenFile(fd, self.path, 0, self.max_line)
            lines = self.current.read()
            if lines is None:
                lines = self._at_end(self.current)
                if lines is None:
                    return []
            if lines:
                return lines
        return []

    def _at_end(self, current: _OpenFile) -> list[Line] | None:
        """The lines that end this file's turn (its partial last line); None while it may still grow."""
        if self.after_rotated is not None:
            return self._switch(self.after_rotated)
        if not self.follow:
            self.done = True
            return current.lines.finish()
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None  # renamed away; the new file is not there yet
        if st.st_ino != current.inode:
            fd = _open_if_there(self.path)
            return None if fd is None else self._drain(current) + self._switch(fd)
        if st.st_size < current.lines.offset:
            lines = current.lines.finish()
            os.lseek(current.fd, 0, os.SEEK_SET)
            current.lines.offset = 0
            return lines
        return None

    @staticmethod
    def _drain(current: _OpenFile) -> list[Line]:
        """What the writer added to the rotated file before it reopened the new one."""
        lines: list[Line] = []
        while (more := current.read()) is not None:
            lines += more
        return lines

    def _switch(self, fd: int) -> list[Line]:
        assert self.current is not None
        lines = self.current.lines.finish()
        os.close(self.current.fd)
        self.current = _OpenFile(fd, self.path, 0, self.max_line)
        self.after_rotated = None
        return lines

    def close(self) -> None:
        for fd in (self.current.fd if self.current else None, self.after_rotated):
            if fd is not None:
                os.close(fd)
        self.current = None
        self.after_rotated = None


def _open_if_there(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None


def _open_by_inode(directory: str, inode: int, min_size: int) -> int | None:
    """The rotated file we were reading, if it still sits next to the new one (``access.log.1``)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if st.st_ino == inode and st.st_size >= min_size and entry.is_file(follow_symlinks=False):
            return _open_if_there(entry.path)
    return None


class Follower:
    """Lines from several inputs, without blocking: ``read`` returns what is there now."""

    def __init__(
        self,
        inputs: Sequence[str],
        follow: bool,
        saved: Mapping[str, Position] | None = None,
        max_line: int = 1 << 20,
    ) -> None:
        self.inputs: list[_Input] = []
        try:
            for path in dict.fromkeys(map(input_key, inputs)):  # a file named twice is read once
                self.inputs.append(_open_input(path, follow, saved or {}, max_line))
        except BaseException:
            self.close()
            raise

    @property
    def exhausted(self) -> bool:
        """Every input has ended (a followed file never does)."""
        return all(i.done for i in self.inputs)

    def read(self, files: bool = True) -> list[Line]:
        """What each input has ready: its next complete lines (a rotated file's rest at once).

        ``files=False`` reads stdin only: files keep their lines until asked again.
        """
        lines: list[Line] = []
        for i in self.inputs:
            if files or isinstance(i, _Stdin):
                lines += i.read()
        return lines

    def wait(self, timeout: float) -> None:
        """Until stdin has something to read, at most ``timeout`` seconds; at once when there is no stdin."""
        fds = [i.fd for i in self.inputs if isinstance(i, _Stdin) and not i.done]
        if fds:
            select.select(fds, [], [], timeout)

    @property
    def has_stdin(self) -> bool:
        return any(isinstance(i, _Stdin) for i in self.inputs)

    def close(self) -> None:
        for i in self.inputs:
            i.close()


def _open_input(path: str, follow: bool, saved: Mapping[str, Position], max_line: int) -> _Input:
    if path == STDIN:
        return _Stdin(max_line)
    fd = _open_if_there(path) if follow else os.open(path, os.O_RDONLY)  # tail -F waits for a missing file
    if fd is not None and is_gzip(path, os.pread(fd, 2, 0), following=True):
        return _Gzip(path, fd, saved.get(path), max_line)
    return _File(path, fd, saved.get(path), follow, max_line)


class OffsetFileError(Refused):
    """The offset file cannot be read or written; the message names it."""


class OffsetFile:
    """Each input's position, saved atomically: a crash leaves the old file or the new one, never half."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Position]:
        """The saved positions by input path; none when the file does not exist yet."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise OffsetFileError(f"cannot read the offset file {self.path}: {_reason(e)}") from None
        try:
            files = json.loads(text)["files"]
            return {path: Position(path, int(p["inode"]), int(p["offset"])) for path, p in files.items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise OffsetFileError(
                f"the offset file {self.path} is not one logscrub wrote; move it away to ship from the start"
            ) from None

    def save(self, positions: Mapping[str, Position]) -> None:
        files = {p.path: {"inode": p.inode, "offset": p.offset} for p in positions.values()}
        data = json.dumps({"version": 1, "files": files}, indent=1, sort_keys=True).encode()
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)  # the rename itself must survive a power cut
            finally:
                os.close(dir_fd)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise OffsetFileError(
                f"cannot write the offset file {self.path}: {_reason(e)} "
                "(lines acknowledged since the last save will be sent again after a restart)"
            ) from None


def _reason(e: OSError) -> str:
    return e.strerror or type(e).__name__
