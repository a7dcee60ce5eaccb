"""The benchmark's figures in the docs, rendered from the JSON results, never typed by hand.

Each generated part of a doc sits between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``
and is exactly what :func:`render` makes of ``bench/results.json`` (``make bench``),
``bench/rss.json`` (``make bench-rss``) or ``bench/soak.json`` (``make soak``). The bench
targets rewrite those parts when they finish; ``python -m bench.docs`` does it from the JSON
files as they are (after a merge brought new results, say), and ``python -m bench.docs --check``
lists the parts that differ from what the JSON says, as the test suite does
(``tests/docs/test_bench_figures.py``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS, RSS, SOAK = HERE / "results.json", HERE / "rss.json", HERE / "soak.json"

NOISE = (
    "The bench machine is a 2-core VM shared with other jobs, so absolute figures are noisy (the load "
    "average at the run's start and end is recorded with them): compare the ratios, which are taken "
    "between figures measured in the same run."
)


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _machine(m: dict[str, Any] | None) -> str:
    if not m:
        return "machine not recorded"
    text = f"{m['cpus']} CPUs, Python {m['python']}, load {m['load_average_1m_at_start']} at start"
    if "load_average_1m_at_end" in m:
        text += f" and {m['load_average_1m_at_end']} at end"
    return text


def _n(value: float | int | None) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3g}" if value < 10 else f"{value:,.0f}"


def _share(x: float) -> str:
    return f"{x:.1%}"


def _wrap(markdown: str) -> str:
    """Prose paragraphs wrapped at 100 columns, as the docs are; tables and lists left as they are."""
    out = []
    for para in markdown.split("\n\n"):
        if para.startswith(("|", "-")):
            out.append(para)
        else:
            out.append(textwrap.fill(para, 100, break_long_words=False, break_on_hyphens=False))
    return "\n\n".join(out)


# --- bench/results.json ----------------------------------------------------------------------------


def figures(r: dict[str, Any]) -> str:
    """docs/performance.md, Figures: every figure, ratio and target of the last ``make bench``."""
    inp = r["input"]
    runs = max((f.get("runs", 1) for f in r["figures"]), default=1)
    e2e = f", end to end {inp['e2e_lines']:,} lines per run" if inp.get("e2e_lines") else ""
    rows = "\n".join(
        f"| {f['name']} | {f['lines_per_s']:,} | {_n(f.get('lines_per_s_per_worker'))} | {f['seconds']} "
        f"| {f['peak_rss_mib']} |"
        for f in r["figures"]
    )
    ratios = "\n".join(f"| {name} | **{value}** |" for name, value in r["ratios"].items())
    goals = "\n".join(
        f"| {t['target']} | {_n(t['measured'])} | "
        + ("met" if t["met"] else f"**missed, {t['factor_to_target']}x short**") + " |"
        for t in r.get("targets", [])
    )
    text = (
        f"From `bench/results.json`, written by `make bench` at {r['when']} ({_machine(r.get('machine'))}): "
        f"{inp['lines']:,} generated combined lines, median of up to {runs} runs per figure{e2e}. {NOISE} "
        "[bench/results.md](../bench/results.md) has the same run with its notes.\n\n"
        "| what | lines/s | per worker | seconds | peak RSS MiB |\n|---|---:|---:|---:|---:|\n"
        f"{rows}\n\n| ratio (same run) | value |\n|---|---:|\n{ratios}\n"
    )
    if goals:
        text += f"\n| target | measured | |\n|---|---:|---|\n{goals}\n"
    split = next((f.get("cpu_us_per_line") for f in r["figures"] if f.get("cpu_us_per_line")), None)
    if split:
        text += ("\nWorker CPU per line (1 worker, from its own metrics):\n\n| part | µs/line |\n|---|---:|\n"
                 + "\n".join(f"| {part} | {us} |" for part, us in split.items()) + "\n")
    return text


def speed(r: dict[str, Any]) -> str:
    """README, Speed: the headline ratios of the last ``make bench``, with the targets they answer to."""
    by = {f["name"]: f for f in r["figures"]}
    ratio = r["ratios"]
    parts = []
    scrub = next((f for name, f in by.items() if name.startswith("logscrub scrub")), None)
    if scrub and "scrub / anonip" in ratio:
        parts.append(f"`logscrub scrub` ran at {scrub['lines_per_s']:,} lines/s, {ratio['scrub / anonip']} times "
                     "anonip's speed (which only masks addresses)")
    if "mask / anonip" in ratio:
        parts.append(f"`logscrub mask` at {ratio['mask / anonip']} times anonip's")
    one = next((f for name, f in by.items() if name.startswith("end to end, 1 worker")), None)
    if one and "end to end per worker (1 worker) / scrub" in ratio:
        parts.append(f"a worker end to end at {one['lines_per_s_per_worker']:,} lines/s, "
                     f"{ratio['end to end per worker (1 worker) / scrub']} of `scrub`'s")
    missed = [t for t in r.get("targets", []) if not t["met"]]
    met = [t for t in r.get("targets", []) if t["met"]]
    verdict = (f"{len(met)} of {len(met) + len(missed)} targets met"
               + (": missed " + "; ".join(f"{t['target']} ({t['factor_to_target']}x short)" for t in missed)
                  if missed else ""))
    return (f"In the last `make bench` ({r['when']}, {_machine(r.get('machine'))}), " + ", ".join(parts)
            + f"; {verdict}. Figures from a shared 2-core machine are noisy; the ratios are what to compare.\n")


def linkability(r: dict[str, Any]) -> str:
    """docs/privacy.md: invariant 2's figures of the last ``make bench`` (bench.linkability)."""
    p = r.get("privacy")
    if not p:
        return f"The `make bench` run of {r['when']} did not measure linkability.\n"
    log = p["log"]
    rows = "\n".join(
        f"| {e['config']} | {_share(e['linked'])} | {_share(e['linked_by_person'])} | {_maybe(e, 'linked_by_request')} "
        f"| {_maybe(e, 'linked_by_fewer')} | {_maybe(e, 'dominated')} | {_share(e['path_kept'])} "
        f"| {_share(e['browser_kept'])} | {_maybe(e, 'by_day')} |"
        for e in p["events"]
    )
    agg = p["aggregates"]
    default = p["events"][0] if p["events"] else {}
    short = agg.get("rollups_short_by_under_k")
    return (
        f"From `make bench` at {p.get('when', r['when'])} (`bench/linkability.py`): a generated {log['days']}-day log, "
        f"{log['visitors_per_day']} visitors a day, {log['lines']:,} lines. An event is linked when the events "
        "sharing its client fields (per day, or per published time slot) are two or more and all of one "
        "address; split further by one request field (referrer, status class, method or section), the worst of "
        "them; by fewer client fields: grouped by the browser, the OS, the device, ... alone (bench/privacy.py's "
        "FIELD_SETS), split or not, the worst; dominated: in a group where one client sent more than half; published by the day: "
        "over their hour's share cap, with their day as their time (`span` 1d). `tests/scrub/test_linkability.py` "
        "holds the default row to at most 1% linked, 60% of paths and 75% of browsers kept, at most 1% linked "
        "once split or grouped by fewer client fields, none dominated, and at most 5% of lines withheld.\n\n"
        "| config | events linked to one address | to one person | split by a request field "
        "| by fewer client fields | dominated | path kept | browser kept | published by the day |\n"
        f"|---|---:|---:|---:|---:|---:|---:|---:|---:|\n{rows}\n\n"
        + (f"With the default config, {default['withheld']:,} of the {log['lines']:,} lines were withheld (sealed "
           "only: their event, or their counts, would have followed one client). " if "withheld" in default else "")
        + f"Aggregates (default config, 1-minute windows): {agg['records']:,} records published, "
        f"{agg['buckets_held_back']:,} buckets held back under k ({_share(agg['held_back_share'])})"
        + (f"; {short:,} rollup records count fewer visitors than they saw, by under k each." if short is not None
           else ".") + "\n"
    )


def _maybe(row: dict[str, Any], key: str) -> str:
    """A share a run before the figure existed did not measure."""
    return _share(row[key]) if key in row else "not measured"


# --- bench/rss.json and bench/soak.json ------------------------------------------------------------

_VERDICT = {True: "flat", False: "**growing**", None: "too few samples to judge"}
_SERIES = {
    "scrub": "`logscrub scrub`, Zipf-distributed clients (~50k)",
    "scrub_visitors": "`logscrub scrub`, every line a new visitor (one day)",
    "worker": "one worker, Zipf-distributed clients (~50k)",
    "worker_visitors": "one worker, every line a new visitor (one day)",
}


def memory(rss: dict[str, Any]) -> str:
    """docs/performance.md, Memory: RSS over long runs (``make bench-rss``)."""
    when = (f"written by `make bench-rss` at {rss['when']} ({_machine(rss.get('machine'))})" if "when" in rss
            else "left by a `make bench-rss` that stopped before its end (no date or machine recorded; each series "
                 "is saved as it ends)")
    rows = []
    for key, title in _SERIES.items():
        s = rss.get(key)
        if not s:
            rows.append(f"| {title} | not measured in this run | | | | |")
            continue
        half = s["second_half"]
        marks = list(s["rss_mib_at_lines"].items())
        first = f"{marks[0][1]} at {int(marks[0][0]):,}" if marks else ""
        last = f"{marks[-1][1]} at {int(marks[-1][0]):,}" if marks else ""
        rows.append(f"| {title} | {s['lines']:,} | {first} | {last} | {s['peak_rss_mib']} "
                    f"| {half['mib_per_1m_lines']} MiB per 1M lines: {_VERDICT[half['flat']]} |")
    per_visitor = [f"{_SERIES[k].split(', ')[0]}: {rss[k]['bytes_per_visitor']} bytes"
                   for k in ("scrub_visitors", "worker_visitors") if rss.get(k, {}).get("bytes_per_visitor") is not None]
    text = (
        f"From `bench/rss.json`, {when}; [bench/rss.md](../bench/rss.md) has every series. RSS in MiB; a series "
        "is judged on its second half, after the caches filled: flat when it grows by less than 2% of its mean.\n\n"
        "| run | lines | RSS early (MiB at lines) | RSS late | peak | second half |\n|---|---:|---:|---:|---:|---|\n"
        + "\n".join(rows) + "\n"
    )
    if per_visitor:
        text += "\nMemory per additional visitor over the second half: " + "; ".join(per_visitor) + ".\n"
    return text


def soak(s: dict[str, Any]) -> str:
    """docs/performance.md, Memory: one worker under steady load (``make soak``)."""
    rows = s["rows"]
    v = s["verdict"]
    rates = [r["lines_per_s"] for r in rows]
    lags = [r["lag"] for r in rows]
    every = max(1, len(rows) // 6)
    picked = rows[every - 1 :: every]
    if rows and picked[-1] is not rows[-1]:
        picked.append(rows[-1])
    table = "\n".join(f"| {r['t']} | {r['processed']:,} | {r['lines_per_s']:,} | {r['lag']:,} | {r['rss_mib']} |"
                      for r in picked)
    return (
        f"From `bench/soak.json`, written by `make soak` at {s['when']} ({_machine(s.get('machine'))}): one worker "
        f"fed {s['rate']:,} lines/s for {s['seconds']} s ([bench/soak.md](../bench/soak.md) has a row every 10 s). "
        f"It kept up: {min(rates):,} to {max(rates):,} lines/s per 10 s, lag at most {max(lags):,} lines. Worker RSS "
        f"over the second half: {v['mib_per_hour']} MiB/hour, {v['growth_mib']} MiB over it (mean {v['mean_mib']} "
        f"MiB): {_VERDICT[v['flat']]}.\n\n"
        f"| s | processed | lines/s (last 10 s) | lag | worker RSS MiB |\n|---:|---:|---:|---:|---:|\n{table}\n"
    )


# --- sections ----------------------------------------------------------------------------------------

# name -> (doc, JSON file, renderer)
SECTIONS: dict[str, tuple[str, Path, Callable[[dict[str, Any]], str]]] = {
    "figures": ("docs/performance.md", RESULTS, figures),
    "memory": ("docs/performance.md", RSS, memory),
    "soak": ("docs/performance.md", SOAK, soak),
    "linkability": ("docs/privacy.md", RESULTS, linkability),
    "speed": ("README.md", RESULTS, speed),
}


def section_re(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- bench:{name} -->\n)(.*?)(<!-- /bench:{name} -->)", re.S)


def expected(name: str) -> str:
    _, source, render = SECTIONS[name]
    data = _load(source)
    if data is None:
        return f"`{source.relative_to(ROOT)}` is missing: run the bench target that writes it.\n"
    return _wrap(render(data).rstrip("\n")) + "\n"


def stale(root: Path = ROOT) -> list[str]:
    """The generated parts of the docs that are missing or differ from the JSON results."""
    problems = []
    for name, (doc, _, _) in SECTIONS.items():
        text = (root / doc).read_text()
        found = section_re(name).findall(text)
        if len(found) != 1:
            problems.append(f"{doc}: {len(found)} `<!-- bench:{name} -->` sections, want 1")
        elif found[0][1] != expected(name):
            problems.append(f"{doc}: the bench:{name} section is not what {SECTIONS[name][1].name} says "
                            "(run `python -m bench.docs`)")
    return problems


def write(names: list[str] | None = None, root: Path = ROOT) -> list[str]:
    """Rewrite the named sections (all by default) from their JSON; returns the docs changed."""
    changed = []
    for name in names or list(SECTIONS):
        doc = root / SECTIONS[name][0]
        text = doc.read_text()
        new, n = section_re(name).subn(lambda m: m[1] + expected(name) + m[3], text)
        if n != 1:
            raise SystemExit(f"{doc}: {n} `<!-- bench:{name} -->` sections, want 1")
        if new != text:
            doc.write_text(new)
            changed.append(f"{SECTIONS[name][0]} ({name})")
    return changed


def from_results(source: Path) -> list[str]:
    """What a bench target calls when it has written ``source``: every section rendered from it."""
    return write([name for name, (_, path, _) in SECTIONS.items() if path == source])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="list the sections that differ from the JSON; exit 1 if any")
    a = p.parse_args(argv)
    if a.check:
        problems = stale()
        print("\n".join(problems) or "the docs show the figures of the JSON results")
        return 1 if problems else 0
    changed = write()
    print("rewrote " + ", ".join(changed) if changed else "the docs already show the figures of the JSON results")
    return 0


if __name__ == "__main__":
    sys.exit(main())
