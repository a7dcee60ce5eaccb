"""Judging a memory series: is it flat, and what was it at given points? Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[float, float]  # (x: seconds or lines, y: MiB)
TOLERANCE = 0.02  # growth over the judged half, as a share of its mean: allocator noise stays below it


@dataclass(frozen=True)
class Flatness:
    slope: float  # y per x, fitted over the second half
    growth: float  # slope times the second half's span of x
    mean: float
    flat: bool | None  # None: too few points to judge


def slope(points: Sequence[Point]) -> float:
    """Least-squares slope: one number for a trend that single samples, noisy by a few MiB, hide."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def flatness(points: Sequence[Point], tolerance: float = TOLERANCE) -> Flatness:
    """Judged on the second half only: caches fill while a run warms up, a leak keeps growing after."""
    half = list(points[len(points) // 2:])
    if len(half) < 3:
        return Flatness(0.0, 0.0, 0.0, None)
    s = slope(half)
    growth = s * (half[-1][0] - half[0][0])
    mean = sum(y for _, y in half) / len(half)
    return Flatness(s, growth, mean, growth <= tolerance * mean)


def at_marks(points: Sequence[Point], marks: Sequence[float]) -> dict[float, float]:
    """y of the first point at or past each mark; marks the series never reached are left out."""
    out: dict[float, float] = {}
    i = 0
    for mark in sorted(marks):
        while i < len(points) and points[i][0] < mark:
            i += 1
        if i == len(points):
            break
        out[mark] = points[i][1]
    return out
