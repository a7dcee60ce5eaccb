"""The progress display of ``scrub`` and ``mask``: one place, drawn by tqdm.

On a terminal only: a percentage and an ETA when the inputs' size is known (files; gzip by the
compressed bytes read), else a line count and a rate. Callers update it every few thousand
lines, so it costs nothing per line.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

from logscrub.files.read import Inputs


def wanted(requested: bool | None, stream: TextIO | None = None) -> bool:
    """Whether to show progress: as asked, else only when stderr is a terminal (never in a log file)."""
    if requested is not None:
        return requested
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """A bar on stderr for reading ``inputs``; every method is a no-op when disabled."""

    def __init__(self, inputs: Inputs, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.inputs = inputs
        self.lines = 0
        self._bar: tqdm | None = None
        if not wanted(enabled, stream):
            return
        common = {"file": stream or sys.stderr, "leave": False, "dynamic_ncols": True, "mininterval": 0.5}
        if inputs.total:
            self._bar = tqdm(total=inputs.total, unit="B", unit_scale=True, unit_divisor=1024, **common)
        else:
            self._bar = tqdm(unit=" lines", unit_scale=True, **common)

    def __bool__(self) -> bool:
        return self._bar is not None

    def update(self, lines: int) -> None:
        """``lines`` read so far (a running total)."""
        bar = self._bar
        if bar is None:
            return
        self.lines = lines
        if self.inputs.total:
            bar.set_postfix_str(f"{lines:,} lines", refresh=False)
            bar.update(self.inputs.position() - bar.n)
        else:
            bar.update(lines - bar.n)

    def close(self) -> None:
        """Clear the bar (the command's summary follows it)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
