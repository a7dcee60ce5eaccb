"""The numbers written to results.md and rss.md: ratios, target verdicts and where RSS is read."""

from __future__ import annotations

from bench.rss import marks
from bench.run import ANONIP, FLOOR, ONE_WORKER, SCRUB, TWO_WORKERS, ratios, targets


def _by() -> dict[str, dict]:
    return {
        FLOOR: {"lines_per_s": 500_000},
        ANONIP: {"lines_per_s": 50_000},
        SCRUB: {"lines_per_s": 125_000},
        ONE_WORKER: {"lines_per_s": 25_000, "lines_per_s_per_worker": 25_000},
        TWO_WORKERS: {"lines_per_s": 40_000, "lines_per_s_per_worker": 20_000},
    }


def test_ratios_compare_figures_of_the_same_run() -> None:
    r = ratios(_by())
    assert r["scrub / anonip"] == 2.5
    assert r["scrub / regex+orjson floor"] == 0.25
    assert r["end to end per worker (1 worker) / scrub"] == 0.2
    assert r["2 workers / 1 worker (total lines/s)"] == 1.6


def test_ratios_skip_what_the_run_did_not_measure() -> None:
    by = {k: v for k, v in _by().items() if k not in (ANONIP, ONE_WORKER)}
    assert set(ratios(by)) == {"scrub / regex+orjson floor"}


def test_targets_say_met_or_by_how_much_they_were_missed() -> None:
    by = _by()
    verdicts = {t["target"]: t for t in targets(by, ratios(by))}
    assert verdicts["scrub at least 2x anonip"]["met"] is True
    floor = verdicts["scrub at least 40% of the regex+orjson floor"]
    assert floor["met"] is False and floor["factor_to_target"] == 1.6
    e2e = verdicts["end to end at least 50k lines/s per worker"]
    assert e2e["measured"] == 25_000 and e2e["factor_to_target"] == 2.0


def test_rss_is_read_at_round_line_counts() -> None:
    assert marks(5_000_000) == [1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000]
    assert marks(1_600_000) == [300_000, 600_000, 900_000, 1_200_000, 1_500_000]
    assert marks(3) == [1, 2, 3]


def test_mask_is_compared_with_scrub_and_anonip() -> None:
    from bench.run import MASK

    by = {**_by(), MASK: {"lines_per_s": 100_000}}
    r = ratios(by)
    assert (r["mask / scrub"], r["mask / anonip"]) == (0.8, 2.0)
    verdict = {t["target"]: t for t in targets(by, r)}["mask at least as fast as scrub (issue 15)"]
    assert verdict["met"] is False and verdict["factor_to_target"] == 1.2


def test_commands_run_in_rounds_and_each_figure_is_its_own_median(tmp_path) -> None:
    """One run of every command per round, so a spell of load slows one run of each, not all of one;
    ``fresh`` folders are emptied before every run and after the last."""
    import sys

    from bench.run import Command, figures_of

    order, state = tmp_path / "order", tmp_path / "state"

    def command(name: str) -> Command:
        script = (f"import pathlib; s = pathlib.Path({str(state)!r}); assert not s.exists(); s.mkdir(); "
                  f"open({str(order)!r}, 'a').write({name!r})")
        return Command(name, [sys.executable, "-c", script], fresh=(state,))

    figures = figures_of([command("a"), command("b")], lines=1000, runs=3)
    assert order.read_text() == "ababab"
    assert not state.exists()
    assert [f["name"] for f in figures] == ["a", "b"]
    assert all(f["runs"] == 3 and f["lines_per_s"] > 0 for f in figures)
