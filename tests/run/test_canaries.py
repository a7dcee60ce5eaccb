"""Invariant 1: no personal data in any byte of the analytics outputs, whatever the input format."""

from pathlib import Path

import pytest

import canaries
from logscrub.config import load
from logscrub.run.scrub_files import scrub


def run(tmp_path: Path, lines: list[str], fmt: str, **env: str):
    src = tmp_path / "in.log"
    src.write_text("\n".join(lines) + "\n")
    cfg = load(None, env={"LOGSCRUB_INPUT__FORMAT": fmt, **env})
    out = tmp_path / "out"
    summary = scrub(cfg, [str(src)], out, progress=False)
    return summary, {p.name: p.read_bytes() for p in out.glob("*.jsonl")}


def assert_clean(blob: bytes, where: str) -> None:
    low = blob.lower()
    for canary in canaries.FORBIDDEN:
        assert canary.encode().lower() not in low, f"{canary!r} leaked into {where}"


def json_lines_of_two_clients() -> list[str]:
    """The JSON canaries, with their event sent from a second client too: k=2 then publishes aggregates."""
    lines = canaries.json_lines()
    return lines + [lines[0].replace(canaries.IPV4_XFF, "192.0.2.202")]


CASES = [
    ("combined", canaries.combined_lines, {}),
    ("json", json_lines_of_two_clients, {"LOGSCRUB_IP__TRUSTED_PROXIES": "[198.51.100.0/24]"}),
]


@pytest.mark.parametrize("client", ["none", "network", "pseudonym"])
@pytest.mark.parametrize("fmt,make,env", CASES, ids=[c[0] for c in CASES])
def test_no_canary_reaches_analytics(tmp_path, fmt, make, env, client):
    lines = make()
    summary, out = run(tmp_path, lines, fmt, LOGSCRUB_EVENTS__CLIENT=client, LOGSCRUB_AGGREGATE__K="2", **env)
    assert summary.lines == len(lines)
    assert summary.accounted
    assert summary.events >= 1 and sum(summary.rejected.values()) >= 1
    for topic in ("analytics.events.jsonl", "analytics.traffic.jsonl"):
        assert out[topic], f"{topic} is empty: the test would prove nothing"
        assert_clean(out[topic], topic)
    # The security zone keeps the lines, but only sealed: no canary in plain text there either.
    for topic in ("security.raw.jsonl", "logs.rejected.jsonl"):
        assert_clean(out[topic], topic)


@pytest.mark.parametrize("client", ["none", "network", "pseudonym"])
def test_no_class_variant_reaches_analytics(tmp_path, client):
    """Issue 12: every class, generated, through the local driver; six clients share each personal path.

    k is 5, so the path would be published if only k kept it off: its template is, and it must be.
    """
    lines, forbidden, templates = canaries.class_lines()
    summary, out = run(tmp_path, lines, "combined", LOGSCRUB_EVENTS__CLIENT=client, LOGSCRUB_AGGREGATE__K="5")
    assert summary.events == summary.lines == len(lines)
    assert len(forbidden) > 150
    for topic in ("analytics.events.jsonl", "analytics.traffic.jsonl"):
        low = out[topic].lower()
        assert out[topic], f"{topic} is empty: the test would prove nothing"
        leaked = [value for value in forbidden if value.lower().encode() in low]
        assert not leaked, f"{leaked[:5]} leaked into {topic}"
    traffic = out["analytics.traffic.jsonl"].decode()
    missing = [t for t in set(templates) if f'"value":"{t}"' not in traffic]
    assert not missing, f"templates below k, so the test proves less than it says: {missing}"
