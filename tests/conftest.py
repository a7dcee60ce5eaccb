"""Test-suite root: shared helpers (``canaries``, ``mmdb``) import the same way from every test
directory, and the repository's own ``bench`` package (generated logs) is importable."""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for path in (_HERE, _HERE.parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
