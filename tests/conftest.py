"""Test-suite root: shared helpers (``canaries``, ``mmdb``) import the same way from every test
directory, and the repository's own ``bench`` package (generated logs) is importable."""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for path in (_HERE, _HERE.parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`logscrub scrub` keeps its keys under $XDG_STATE_HOME: a fresh one per test, never the user's."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


from hypothesis import HealthCheck, settings  # noqa: E402

# The suite shares a 2-core machine with a broker and workers: how fast hypothesis draws inputs
# says nothing about the code under test, so a slow draw is not a failure.
settings.register_profile("shared-machine", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-machine")
