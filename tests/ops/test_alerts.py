"""The example alert rules pass a real promtool (Debian's prometheus package) and its rule unit tests.

promtool missing is a failure, not a skip: ``make promtool`` (run by ``make test`` and ``make unit``)
unpacks it into .tools/bin.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from logscrub.ops.metrics import ShipperMetrics, WorkerMetrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "config" / "alerts.yml"
RULE_TESTS = ROOT / "tests" / "ops" / "alerts_test.yml"
PROMETHEUS = ROOT / "config" / "prometheus.yml"
# What the rules must watch (issue 16): lag, rejected share, output failures and dead workers,
# overdue key destruction, and a shipper that drops or is about to.
REQUIRED = {
    "LogscrubConsumerLagGrowing", "LogscrubRejectedShareHigh", "LogscrubWorkerDown", "LogscrubNoWorker",
    "LogscrubRestarting", "LogscrubWorkersStalled", "LogscrubKeyDestructionOverdue", "LogscrubShipperDropping",
    "LogscrubShipperSpoolNearlyFull",
}


def promtool(*args: str) -> str:
    found = os.environ.get("PROMTOOL") or shutil.which("promtool") or str(ROOT / ".tools" / "bin" / "promtool")
    assert Path(found).is_file(), "promtool is missing: `make promtool` installs it (Debian's prometheus package)"
    done = subprocess.run([found, *args], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def rules() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_the_alert_rules_pass_promtool_check() -> None:
    assert f"SUCCESS: {len(rules())} rules found" in promtool("check", "rules", str(RULES.relative_to(ROOT)))


def test_the_compose_prometheus_config_loads_the_rules_and_passes_promtool() -> None:
    assert "alerts.yml" in yaml.safe_load(PROMETHEUS.read_text())["rule_files"]
    out = promtool("check", "config", str(PROMETHEUS.relative_to(ROOT)))
    assert f"SUCCESS: {len(rules())} rules found" in out


def test_the_rule_unit_tests_pass_and_cover_lag_and_rejected_share_both_ways() -> None:
    assert "SUCCESS" in promtool("test", "rules", str(RULE_TESTS.relative_to(ROOT)))
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    for alert in ("LogscrubConsumerLagGrowing", "LogscrubRejectedShareHigh"):
        outcomes = {bool(case["exp_alerts"]) for case in cases if case["alertname"] == alert}
        assert outcomes == {True, False}, f"{alert} needs a test where it fires and one where it does not"


def test_the_rules_watch_what_operators_need_and_only_metrics_that_exist() -> None:
    assert REQUIRED <= set(rules())
    exported = set()
    for metrics in (WorkerMetrics(), ShipperMetrics()):
        for family in metrics.registry.collect():
            exported.update(sample.name for sample in family.samples)
            exported.add(family.name + ("_total" if family.type == "counter" else ""))
    for name, rule in rules().items():
        used = set(re.findall(r"\b((?:logscrub|process)_\w+)", rule["expr"]))
        assert used <= exported, f"{name} uses {sorted(used - exported)}, which nothing exports"
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
