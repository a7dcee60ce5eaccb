"""RSS of a running process over its progress, sampled from a thread while the caller waits on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bench.procfs import rss_mib


class Sampler:
    """Every ``every`` seconds: (seconds since start, progress, RSS MiB) of ``pid``, until the block ends.

    ``progress`` (lines done, say) may return None while it cannot tell; such samples are skipped.
    """

    def __init__(self, pid: int, progress: Callable[[], float | None], every: float) -> None:
        self.pid = pid
        self.progress = progress
        self.every = every
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                done, rss = self.progress(), rss_mib(self.pid)
            except (FileNotFoundError, ProcessLookupError):
                return  # the process is gone
            if done is not None:
                self.samples.append((round(time.monotonic() - self._started, 1), done, round(rss, 1)))

    def by_progress(self) -> list[tuple[float, float]]:
        """(progress, RSS MiB) points, for series.flatness and series.at_marks."""
        return [(done, rss) for _, done, rss in self.samples]
