"""The corpora both cores are held to: generated logs, the hostile-input cases, the fuzz corpus, and
the canary lines; plus the Request fields in a form that compares every byte (zone included)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import canaries
from logscrub import native
from logscrub.parsing.record import ParseError, Request

ROOT = Path(__file__).resolve().parents[2]
FUZZ_CORPUS = ROOT / "fuzz" / "corpus"

needs_native = pytest.mark.skipif(not native.available(), reason=native.describe())


def fields(parse: Callable[[str], Request], line: str) -> tuple[Any, ...] | str:
    """Every field of the Request (the time as ISO text with its offset), or the rejection reason."""
    try:
        r = parse(line)
    except ParseError as e:
        return e.reason
    return (r.client, r.time.isoformat(), r.time.utcoffset(), r.time.timestamp(), r.method, r.target, r.protocol,
            r.status, r.bytes, r.referrer, r.user_agent, r.user, r.host, r.forwarded_for, r.duration)


@cache
def sample_lines() -> tuple[str, ...]:
    """bench/sample.py: Zipf clients (15% IPv6), ids and tokens in paths, scanners, TLS garbage."""
    from bench.sample import generate

    return tuple(generate(20_000, seed=7))


@cache
def visitor_lines() -> tuple[str, ...]:
    """bench/visitors.py: four days of a site with known visitors (the linkability measure's input)."""
    from bench import visitors

    return tuple(visitors.generate(days=4, visitors_per_day=250, seed=3).lines)


@cache
def hostile_lines() -> tuple[str, ...]:
    """tests/scrub/test_hostile_input.py's cases, as the scrubber hands them to a parser."""
    hostile = reference_tests("scrub/test_hostile_input.py").HOSTILE
    return tuple(line.rstrip(b"\r\n").decode("utf-8", "replace") for line in hostile.values())


def fuzz_inputs() -> Iterator[bytes]:
    """fuzz/corpus: inputs the fuzzers keep (their first byte picks a format, as in fuzz_scrub.py)."""
    for path in sorted(FUZZ_CORPUS.glob("*")):
        if path.is_file():
            yield path.read_bytes()


@cache
def canary_lines() -> tuple[str, ...]:
    """Every line of tests/canaries.py: the fixed canaries and the generated variants of each class."""
    lines, _, _ = canaries.class_lines()
    return tuple(canaries.combined_lines() + lines)


def reference_tests(relative: str) -> ModuleType:
    """Another directory's test module (its tables of cases), loaded under its own name."""
    path = ROOT / "tests" / relative
    name = "reference_" + path.stem
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(path.parent))  # for its own sibling helpers (ordinary_paths)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module
