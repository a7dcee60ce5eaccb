"""``logscrub topics acl``: least privilege per principal, as a table and as Kafka ACLs."""

from __future__ import annotations

import os
import shlex

import pytest

from logscrub.cli.main import main
from logscrub.config import Config, ConfigError, load
from logscrub.kafka.acl import Grant, Principals, desired_acls, render_kafka_acls, render_table, to_acls

RAW_ZONE = {"logs.raw", "security.raw", "logs.rejected", "security.keys"}
SECURITY_TOPICS = {"security.raw", "logs.rejected", "security.keys", "security.audit", "security.restrictions"}


@pytest.fixture(autouse=True)
def _no_ambient_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("LOGSCRUB_")]:
        monkeypatch.delenv(name)


def allowed(grants: list[Grant], role: str) -> dict[tuple[str, str], set[str]]:
    """(resource type, name) -> operations, for one role."""
    out: dict[tuple[str, str], set[str]] = {}
    for g in grants:
        if g.role == role:
            out.setdefault((g.resource_type, g.name), set()).update(g.operations)
    return out


def topics_with(grants: list[Grant], role: str, operation: str) -> set[str]:
    return {name for (kind, name), ops in allowed(grants, role).items() if kind == "TOPIC" and operation in ops}


GRANTS = desired_acls(Config(), Principals())


def test_analysts_read_the_analytics_topics_and_nothing_of_the_security_zone() -> None:
    assert topics_with(GRANTS, "analysts", "READ") == {"analytics.events", "analytics.traffic"}
    assert topics_with(GRANTS, "analysts", "WRITE") == set()
    assert not {name for kind, name in allowed(GRANTS, "analysts") if kind == "TOPIC"} & (SECURITY_TOPICS | RAW_ZONE)
    # Their own tools choose group ids, under a prefix: never the workers' groups, never any group.
    (group,) = [g for g in GRANTS if g.role == "analysts" and g.resource_type == "GROUP"]
    assert (group.name, group.prefixed, group.operations) == ("analytics-", True, ("READ",))


def test_no_role_may_join_the_workers_groups_or_any_group() -> None:
    groups = [(g.role, g.name, g.prefixed) for g in GRANTS if g.resource_type == "GROUP"]
    assert groups == [("workers", "logscrub", False), ("workers", "logscrub.raw", False),
                      ("analysts", "analytics-", True)]  # fmt: skip
    assert not any(g.name == "*" for g in GRANTS)
    assert not any(name.startswith("analytics-") for _, name, _ in groups[:2])


def test_the_analysts_prefix_comes_from_config() -> None:
    cfg = load(None, env={"LOGSCRUB_KAFKA__ANALYST_GROUP_PREFIX": "bi.", "LOGSCRUB_KAFKA__APP_ID": "scrub-prod"})
    assert [(g.name, g.prefixed) for g in desired_acls(cfg, Principals()) if g.role == "analysts"][-1] == ("bi.", True)


@pytest.mark.parametrize("app_id,prefix,group", [
    ("analytics-logscrub", "analytics-", "analytics-logscrub"),  # the default prefix, an unlucky app id
    ("logscrub", "log", "logscrub"),
    ("logscrub", "logscrub.", "logscrub.raw"),
    ("logscrub", "logscrub.raw", "logscrub.raw"),
])  # fmt: skip
def test_a_prefix_that_reaches_a_workers_group_is_refused(app_id: str, prefix: str, group: str) -> None:
    env = {"LOGSCRUB_KAFKA__APP_ID": app_id, "LOGSCRUB_KAFKA__ANALYST_GROUP_PREFIX": prefix}
    with pytest.raises(ConfigError) as e:
        load(None, env=env)
    assert str(e.value).startswith("config: kafka.analyst_group_prefix: ")
    assert f"would let analysts join the workers' group {group} (kafka.app_id)" in str(e.value)


@pytest.mark.parametrize("prefix", ["", "*", "a b", "analytics/"])
def test_a_prefix_that_is_no_group_name_is_refused(prefix: str) -> None:
    with pytest.raises(ConfigError, match=r"^config: kafka\.analyst_group_prefix: (letters, digits|expected a string)"):
        load(None, env={"LOGSCRUB_KAFKA__ANALYST_GROUP_PREFIX": prefix})


def test_shippers_only_write_raw_lines() -> None:
    assert allowed(GRANTS, "shippers") == {("TOPIC", "logs.raw"): {"WRITE", "DESCRIBE"}}


def test_workers_read_raw_lines_and_write_every_output_but_never_the_responders_records() -> None:
    assert topics_with(GRANTS, "workers", "READ") == {
        "logs.raw", "logscrub.traffic-partials", "logscrub.vocabulary", "security.keys", "security.restrictions",
    }
    assert topics_with(GRANTS, "workers", "WRITE") == {
        "analytics.events", "analytics.traffic", "security.raw", "logs.rejected", "logscrub.traffic-partials",
        "logscrub.vocabulary", "security.keys",
    }
    assert "security.audit" not in {name for _, name in allowed(GRANTS, "workers")}
    # The start-up check reads the raw zone's retention settings.
    assert topics_with(GRANTS, "workers", "DESCRIBE_CONFIGS") == RAW_ZONE
    assert allowed(GRANTS, "workers")[("GROUP", "logscrub")] == {"READ"}
    assert allowed(GRANTS, "workers")[("GROUP", "logscrub.raw")] == {"READ"}
    assert not any(g.resource_type == "TRANSACTIONAL_ID" for g in GRANTS)


def test_responders_read_the_sealed_lines_and_keys_and_write_only_their_records() -> None:
    assert topics_with(GRANTS, "responders", "READ") == {"security.raw", "logs.rejected", "security.keys"}
    assert topics_with(GRANTS, "responders", "WRITE") == {"security.keys", "security.audit", "security.restrictions"}
    assert not {name for _, name in allowed(GRANTS, "responders")} & {"analytics.events", "analytics.traffic",
                                                                       "logs.raw"}


def test_every_topic_a_role_touches_is_also_describable() -> None:
    for g in GRANTS:
        if g.resource_type == "TOPIC":
            assert "DESCRIBE" in g.operations, g


def test_topic_names_and_principals_come_from_config_and_flags() -> None:
    cfg = load(None, env={"LOGSCRUB_TOPICS__SECURITY__NAME": "sec.buffer", "LOGSCRUB_KAFKA__APP_ID": "scrub-prod"})
    grants = desired_acls(cfg, Principals(responders="User:CN=oncall"))
    assert {g.principal for g in grants if g.role == "responders"} == {"User:CN=oncall"}
    assert "sec.buffer" in topics_with(grants, "responders", "READ")
    assert "security.raw" not in {g.name for g in grants}
    assert ("GROUP", "scrub-prod") in allowed(grants, "workers")


def test_one_allow_acl_per_operation() -> None:
    acls = to_acls(GRANTS)
    assert len(acls) == sum(len(g.operations) for g in GRANTS)
    assert {a.permission_type.name for a in acls} == {"ALLOW"}
    assert {a.host for a in acls} == {"*"}
    assert not [a for a in acls if a.resource_pattern.resource_name == "*"]
    prefixed = [a for a in acls if a.resource_pattern.pattern_type.name == "PREFIXED"]
    assert [(a.principal, a.resource_pattern.resource_name) for a in prefixed] == [("User:analyst", "analytics-")]


def test_table_has_a_row_per_grant_aligned_in_columns() -> None:
    lines = render_table(GRANTS).splitlines()
    assert lines[0].split() == ["role", "principal", "resource", "operations"]
    assert len(lines) == len(GRANTS) + 1
    column = lines[0].index("operations")
    assert all(line[column - 2 : column] == "  " and line[column] != " " for line in lines)
    assert any(line.startswith("analysts") and "group analytics-* (prefix)" in line for line in lines)


def test_cli_prints_the_table_without_a_broker(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "acl", "--analysts", "User:bi"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("analysts")]
    assert rows and all(row[1] == "User:bi" for row in rows)
    assert not any("security" in " ".join(row) for row in rows)


def test_cli_rejects_a_principal_without_a_type(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["topics", "acl", "--workers", "worker"])
    assert e.value.code == 2
    assert "User:analyst" in capsys.readouterr().err


def _acls_of_commands(text: str) -> set[tuple[str, str, str, str, str]]:
    """(principal, operation, resource type, name, pattern type) of each ``kafka-acls.sh --add`` line."""
    found = set()
    for line in text.splitlines():
        words = shlex.split(line)
        assert words[:4] == ["kafka-acls.sh", "--bootstrap-server", "k1:9093,k2:9093", "--add"], line
        principal, ops, kind, name, pattern = None, [], None, None, "LITERAL"
        for flag, value in zip(words[4::2], words[5::2], strict=True):
            if flag == "--allow-principal":
                principal = value
            elif flag == "--operation":
                ops.append(value)
            elif flag in ("--topic", "--group", "--transactional-id"):
                kind, name = flag[2:].replace("-", "_").upper(), value
            elif flag == "--resource-pattern-type":
                pattern = value.upper()
            else:
                raise AssertionError(f"unexpected {flag} in {line!r}")
        found |= {(principal, op, kind, name, pattern) for op in ops}
    return found


def test_kafka_acls_commands_are_the_acls_apply_creates() -> None:
    grants = desired_acls(Config(), Principals(responders="User:CN=on call,O=Example"))
    text = render_kafka_acls(grants, "k1:9093, k2:9093")
    assert len(text.splitlines()) == len(grants)
    # kafka-acls.sh spells operations in camel case (DescribeConfigs), patterns in lower case.
    wanted = {
        (a.principal, "".join(p.capitalize() for p in a.operation.name.split("_")),
         a.resource_pattern.resource_type.name, a.resource_pattern.resource_name, a.resource_pattern.pattern_type.name)
        for a in to_acls(grants)
    }  # fmt: skip
    assert _acls_of_commands(text) == wanted
    assert ("User:CN=on call,O=Example", "Read", "TOPIC", "security.raw", "LITERAL") in wanted


def test_cli_prints_kafka_acls_commands_with_the_admin_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS", "k1:9093,k2:9093")
    assert main(["topics", "acl", "--format", "kafka-acls", "--command-config", "admin.properties"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(GRANTS)
    assert all(line.startswith("kafka-acls.sh --bootstrap-server k1:9093,k2:9093 --command-config admin.properties "
                               "--add --allow-principal ") for line in lines)  # fmt: skip
    assert lines[-6].endswith("--operation Read --group analytics- --resource-pattern-type prefixed")


@pytest.mark.parametrize("argv", [["--command-config", "admin.properties"],
                                  ["--apply", "--format", "kafka-acls"]])
def test_cli_refuses_options_that_do_not_go_together(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["topics", "acl", *argv])
    except SystemExit as e:
        code = e.code
    assert code == 2
