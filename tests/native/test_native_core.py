"""Which core runs, and that it says so: runs with or without the compiled core installed.

CI sets EXPECT_LOGSCRUB_CORE (native where cargo is on PATH, python where it is not): the compiled
core is optional at install, so a build that failed quietly would otherwise pass as pure Python.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from logscrub import __version__, native


def test_the_expected_core_runs():
    expected = os.environ.get("EXPECT_LOGSCRUB_CORE")
    if not expected:
        pytest.skip("EXPECT_LOGSCRUB_CORE is not set (CI sets it)")
    assert native.core() == expected, native.describe()


def _version(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "logscrub", "--version"], capture_output=True, text=True,
                         env={**os.environ, **env}, check=True)
    return out.stdout.strip()


def test_version_names_the_core():
    assert _version({}) == f"logscrub {__version__} (core: {native.core()})"
    assert _version({native.ENV: "0"}) == f"logscrub {__version__} (core: python)"


def test_the_worker_log_line_says_which_core_and_why():
    line = native.describe()
    assert line.startswith("per-line core: " + native.core())
    if not native.available():
        assert "LOGSCRUB_NATIVE=0" in line or "no compiled core" in line
        with pytest.raises(ImportError):
            native.module()
