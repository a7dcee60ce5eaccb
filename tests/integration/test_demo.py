"""`make demo`, the README's first command, end to end (it starts and stops its own broker)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_accounts_for_every_sample_line():
    done = subprocess.run([sys.executable, "scripts/demo.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sample_lines = len((ROOT / "samples" / "access.log").read_bytes().splitlines())
    m = re.search(r"accounted: (\d+) events \+ (\d+) withheld \+ (\d+) rejected = (\d+) lines shipped", done.stdout)
    assert m, done.stdout[-2000:]
    events, withheld, rejected, shipped = map(int, m.groups())
    assert events + withheld + rejected == shipped == sample_lines
    assert withheld < events / 10  # the owner's share cap withholds some of a trail (scrub: 353 of 5,000)
    for topic in ("analytics.events", "analytics.traffic", "security.raw", "logs.rejected"):
        assert f"== {topic}" in done.stdout
    # The responder's search at the end opened the sample's 500s and counted nothing it could not open.
    searched = re.search(r"(\d+) records read, (\d+) matched(.*)", done.stderr)
    assert searched and int(searched[1]) == shipped and int(searched[2]) > 0, done.stderr[-2000:]
    assert "not opened" not in searched[3]
