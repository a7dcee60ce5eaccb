"""A short differential fuzzing run in every test run: fuzz/fuzz_native.py from fuzz/corpus for a
fixed number of inputs (`make fuzz` runs it for longer and keeps what it finds in fuzz/corpus)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from corpora import FUZZ_CORPUS, ROOT, needs_native

pytestmark = needs_native

RUNS = 20_000


def test_a_short_differential_fuzzing_run_finds_no_difference(tmp_path):
    pytest.importorskip("atheris")
    result = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "fuzz_native.py"), f"-runs={RUNS}", "-max_len=4096", "-timeout=30",
         f"-artifact_prefix={tmp_path}/", str(tmp_path), str(FUZZ_CORPUS)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"Done {RUNS} runs" in result.stderr
