"""Whole inputs read once: plain or gzip files, or standard input for ``-``."""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from typing import BinaryIO

STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(name: str, head: bytes, following: bool = False) -> bool:
    """Whether an input is gzip: by its magic bytes, and for a followed file by its name as well
    (a live log is never gzip, whatever its first bytes happen to be)."""
    return head[:2] == GZIP_MAGIC and (not following or name.endswith(".gz"))


def open_input(name: str) -> BinaryIO:
    """A binary stream of a file, gzip or not, or of stdin for ``-``."""
    raw: BinaryIO = sys.stdin.buffer if name == STDIN else open(name, "rb")  # noqa: SIM115
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    if is_gzip(name, buffered.peek(2)):
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
    return buffered


def read_lines(names: list[str]) -> Iterator[bytes]:
    """Every line of every input in turn, newlines kept."""
    for name in names:
        with open_input(name) as f:
            yield from f
