"""Whole inputs read once: plain or gzip files, or standard input for ``-``.

``Inputs`` also says how far through its inputs the reading is (for a progress display), and
turns a read that fails (a truncated gzip, a directory, a vanished file) into one ``InputError``
naming the input, so no command shows a traceback for a bad input.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import zlib
from collections.abc import Iterator
from typing import BinaryIO

STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16


class InputError(Exception):
    """An input that cannot be read; the message names it (never its contents)."""


def is_gzip(name: str, head: bytes, following: bool = False) -> bool:
    """Whether an input is gzip: by its magic bytes, and for a followed file by its name as well
    (a live log is never gzip, whatever its first bytes happen to be)."""
    return head[:2] == GZIP_MAGIC and (not following or name.endswith(".gz"))


def open_input(name: str) -> BinaryIO:
    """A binary stream of a file, gzip or not, or of stdin for ``-``."""
    return _open(name)[0]


def _open(name: str) -> tuple[BinaryIO, BinaryIO]:
    """(the stream of lines, the buffered file under it: its position counts compressed bytes for gzip)."""
    raw: BinaryIO = sys.stdin.buffer if name == STDIN else open(name, "rb")  # noqa: SIM115
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    if is_gzip(name, buffered.peek(2)):
        return gzip.GzipFile(fileobj=buffered), buffered  # type: ignore[return-value]
    return buffered, buffered


def size_of(name: str) -> int | None:
    """Bytes in a regular file (stdin too, when redirected from one); None for pipes and terminals."""
    try:
        st = os.fstat(sys.stdin.fileno()) if name == STDIN else os.stat(name)
    except (OSError, ValueError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def is_interactive(name: str) -> bool:
    """Whether an input is a pipe or a terminal: lines arrive as a writer sends them, so whatever was
    read must be passed on before waiting for more (an Apache piped log)."""
    return size_of(name) is None


def _describe(name: str, error: BaseException) -> str:
    where = "standard input" if name == STDIN else name
    if isinstance(error, IsADirectoryError):
        return f"{where} is a directory, not a log file"
    if isinstance(error, FileNotFoundError):
        return f"no such file: {where}"
    if isinstance(error, gzip.BadGzipFile | zlib.error):
        return f"{where} is not a readable gzip file ({error})"
    if isinstance(error, EOFError):
        return f"{where} ends in the middle of its gzip data (truncated?)"
    if isinstance(error, OSError):
        return f"cannot read {where}: {error.strerror or type(error).__name__}"
    return f"cannot read {where}: {type(error).__name__}"


class Inputs:
    """Every line of every input in turn, and how far through them the reading is.

    Iterating gives the lines (newlines kept) at the speed of the file objects' own iteration;
    ``position``/``total`` count bytes as stored (compressed for gzip), so a percentage is right
    for ``.gz`` files too. ``total`` is None when an input's size cannot be known (a pipe).
    """

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        sizes = [size_of(name) for name in self.names]
        self.total: int | None = None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)
        self.interactive = any(is_interactive(name) for name in self.names)
        self._done = 0  # bytes of the inputs finished
        self._current: BinaryIO | None = None
        self._lines = self._read()

    def __iter__(self) -> Iterator[bytes]:
        # The generator itself, not self: iteration then never goes through a Python-level __next__.
        return self._lines

    def __next__(self) -> bytes:
        return next(self._lines)

    def position(self) -> int:
        """Bytes consumed so far, over all inputs; only meaningful when ``total`` is known."""
        current = self._current
        if current is None:
            return self._done
        try:
            return self._done + current.tell()
        except (OSError, ValueError):
            return self._done

    def _opened(self, name: str) -> tuple[BinaryIO, BinaryIO]:
        try:
            return _open(name)
        except (OSError, EOFError) as e:
            raise InputError(_describe(name, e)) from None

    def _read(self) -> Iterator[bytes]:
        for name in self.names:
            stream, under = self._opened(name)
            self._current = under
            try:
                with stream:
                    yield from stream
            except (OSError, EOFError, zlib.error) as e:
                raise InputError(_describe(name, e)) from None
            self._current = None
            self._done += size_of(name) or 0

    def batches(self, max_line: int) -> Iterator[list[bytes]]:
        """Lines (newlines removed) in the groups one read returned: a caller that passes each group
        on before asking for the next never holds a line back while the writer is quiet.

        A line longer than ``max_line`` is cut to ``max_line + 1`` bytes (so it is still seen as too
        long) and its rest skipped: memory stays bounded whatever the input.
        """
        for name in self.names:
            stream, under = self._opened(name)
            self._current = under
            read = stream.read1  # type: ignore[attr-defined]
            rest = b""
            skipping = False
            try:
                with stream:
                    while chunk := read(_CHUNK):
                        lines = chunk.split(b"\n")
                        if skipping:
                            if len(lines) == 1:
                                continue
                            lines.pop(0)  # the end of the over-long line: dropped with it
                            skipping = False
                        else:
                            lines[0] = rest + lines[0]
                        rest = lines.pop()
                        if len(rest) > max_line:
                            lines.append(rest[: max_line + 1])
                            rest, skipping = b"", True
                        if lines:
                            yield lines
                    if rest:
                        yield [rest]
            except (OSError, EOFError, zlib.error) as e:
                raise InputError(_describe(name, e)) from None
            self._current = None
            self._done += size_of(name) or 0


def read_lines(names: list[str]) -> Inputs:
    """Every line of every input in turn, newlines kept (an ``Inputs``: it knows its position)."""
    return Inputs(names)
