"""The verdicts the benchmark reports: a wrong flatness judgement would hide a leak."""

from __future__ import annotations

import pytest

from bench.series import at_marks, flatness, slope


def test_slope_of_a_line_is_exact() -> None:
    assert slope([(x, 3 * x + 7) for x in range(10)]) == pytest.approx(3.0)


def test_slope_without_spread_in_x_is_zero_not_an_error() -> None:
    assert slope([(1, 5), (1, 9)]) == 0.0
    assert slope([(1, 5)]) == 0.0


def test_noise_around_a_level_is_flat() -> None:
    points = [(t, 200 + (1.5 if t % 2 else -1.5)) for t in range(60)]
    judged = flatness(points)
    assert judged.flat is True
    assert judged.mean == pytest.approx(200, abs=0.1)


def test_growth_that_continues_after_warm_up_is_not_flat() -> None:
    # 0.5 MiB per sample: 15 MiB over the second half of 60 samples, well over 2% of ~200 MiB.
    judged = flatness([(t, 185 + 0.5 * t) for t in range(60)])
    assert judged.flat is False
    assert judged.growth == pytest.approx(0.5 * 29)


def test_growth_only_while_warming_up_is_flat() -> None:
    # Caches filling during the first half, then a plateau: what a bounded process looks like.
    points = [(t, 100 + 4 * min(t, 25)) for t in range(60)]
    assert flatness(points).flat is True


def test_too_few_points_are_not_judged() -> None:
    assert flatness([(0, 1), (1, 50), (2, 100), (3, 150)]).flat is None


def test_at_marks_takes_the_first_point_at_or_past_each_mark() -> None:
    points = [(0, 10.0), (900_000, 11.0), (1_000_000, 12.0), (1_600_000, 13.0), (2_100_000, 14.0)]
    assert at_marks(points, [2_000_000, 1_000_000, 3_000_000]) == {1_000_000: 12.0, 2_000_000: 14.0}
