"""What bench/docs.py writes into the docs: every figure from the JSON results, and a run that
stopped early or measured less says so instead of leaving a gap."""

from __future__ import annotations

import json

from bench import docs

RESULTS = json.loads(docs.RESULTS.read_text())


def test_figures_show_every_figure_ratio_and_target_of_the_run() -> None:
    text = docs.figures(RESULTS)
    assert RESULTS["when"] in text
    for f in RESULTS["figures"]:
        assert f"| {f['name']} | {f['lines_per_s']:,} |" in text
    for name, value in RESULTS["ratios"].items():
        assert f"| {name} | **{value}** |" in text
    assert text.count("| target |") == (1 if RESULTS.get("targets") else 0)
    assert "noisy" in text and "same run" in text


def test_a_run_without_privacy_figures_says_so() -> None:
    without = {k: v for k, v in RESULTS.items() if k != "privacy"}
    assert "did not measure linkability" in docs.linkability(without)


def test_a_memory_run_that_stopped_early_says_what_it_lacks() -> None:
    rss = {"scrub": {"lines": 10, "rss_mib_at_lines": {"5": 1.0, "10": 2.0}, "peak_rss_mib": 2.0,
                     "second_half": {"mib_per_1m_lines": 1.0, "growth_mib": 0.1, "mean_mib": 1.5, "flat": True}}}
    text = docs.memory(rss)
    assert "stopped before its end" in text
    assert text.count("not measured in this run") == 3
    assert "| 1.0 at 5 | 2.0 at 10 | 2.0 | 1.0 MiB per 1M lines: flat |" in text


def test_write_replaces_only_the_marked_sections(tmp_path) -> None:
    (tmp_path / "docs").mkdir()
    for doc in {d for d, _, _ in docs.SECTIONS.values()}:
        (tmp_path / doc).write_text("before\n" + "".join(
            f"<!-- bench:{name} -->\nold\n<!-- /bench:{name} -->\n"
            for name, (d, _, _) in docs.SECTIONS.items() if d == doc) + "after\n")
    assert docs.stale(tmp_path)
    docs.write(root=tmp_path)
    assert docs.stale(tmp_path) == []
    text = (tmp_path / "docs" / "performance.md").read_text()
    assert text.startswith("before\n<!-- bench:figures -->\n") and text.endswith("<!-- /bench:soak -->\nafter\n")
    assert "old" not in text
