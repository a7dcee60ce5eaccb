"""What the topics must look like, derived from config alone (no broker)."""

from __future__ import annotations

import pytest

from logscrub.config import ConfigError, load
from logscrub.kafka.topic_specs import TopicSpec, desired_topics
from logscrub.kafka.topic_specs import raw_zone_problems as _raw_zone_problems


def _specs(**env: str) -> dict[str, TopicSpec]:
    cfg = load(None, env={f"LOGSCRUB_{k.upper()}": v for k, v in env.items()})
    return {s.role: s for s in desired_topics(cfg)}


def test_every_topic_once_with_its_configured_name_and_layout() -> None:
    specs = _specs(topics__raw__name="in.raw", topics__raw__partitions="6", topics__events__replication="3")
    assert sorted(specs) == sorted(
        ["raw", "events", "traffic", "security", "rejected", "partials", "vocabulary", "keys", "audit", "restrictions"]
    )
    assert (specs["raw"].name, specs["raw"].partitions, specs["raw"].replication) == ("in.raw", 6, 1)
    assert (specs["events"].name, specs["events"].replication) == ("analytics.events", 3)


@pytest.mark.parametrize("role", ["raw", "security", "rejected"])
def test_raw_zone_keeps_lines_for_the_window_by_broker_time(role: str) -> None:
    configs = _specs(security__window="6h")[role].configs
    assert configs == {
        "cleanup.policy": "delete",
        "retention.ms": str(6 * 3600 * 1000),
        "segment.ms": str(6 * 360 * 1000),  # a tenth of the window
        "message.timestamp.type": "LogAppendTime",
    }


@pytest.mark.parametrize(
    ("window", "segment_ms"),
    [("5s", 1_000), ("10s", 1_000), ("50s", 5_000), ("10h", 3_600_000), ("7d", 3_600_000)],
)
def test_segment_ms_is_a_tenth_of_the_window_within_1s_and_1h(window: str, segment_ms: int) -> None:
    env = {"security__window": window, "keys__data_rotation": "1s"}
    assert _specs(**env)["security"].configs["segment.ms"] == str(segment_ms)


def test_raw_zone_retention_override_shortens_only_that_topic() -> None:
    specs = _specs(security__window="2h", topics__rejected__retention="30m")
    assert specs["rejected"].configs["retention.ms"] == str(1800 * 1000)
    assert specs["security"].configs["retention.ms"] == str(7200 * 1000)
    assert specs["rejected"].configs["segment.ms"] == specs["security"].configs["segment.ms"]


def test_analytics_retention_only_when_configured_and_their_timestamps_are_the_records_own() -> None:
    """A cluster defaulting to LogAppendTime would stamp each event with when it was written."""
    specs = _specs(topics__traffic__retention="30d")
    stamps = {"message.timestamp.type": "CreateTime"}
    assert specs["events"].configs == {"cleanup.policy": "delete"} | stamps
    assert specs["traffic"].configs == {"cleanup.policy": "delete", "retention.ms": str(30 * 86400 * 1000)} | stamps


def test_keys_are_compacted_and_gone_with_the_window() -> None:
    configs = _specs(security__window="6h")["keys"].configs
    assert configs["retention.ms"] == str(6 * 3600 * 1000)
    assert configs["cleanup.policy"] == "compact,delete"
    assert configs["message.timestamp.type"] == "LogAppendTime"
    assert int(configs["delete.retention.ms"]) <= 6 * 360 * 1000  # a tombstone does not linger
    assert _raw_zone_problems("security.keys", configs, 6 * 3600) == []


def test_keys_topic_must_have_one_partition() -> None:
    with pytest.raises(ConfigError) as e:
        _specs(topics__keys__partitions="3")
    assert e.value.key == "topics.keys.partitions"


def test_restrictions_are_kept_until_lifted() -> None:
    assert _specs()["restrictions"].configs == {"cleanup.policy": "compact"}


def test_partials_live_no_longer_than_a_visitor_key() -> None:
    assert _specs(keys__visitor_rotation="6h", aggregate__rollups="[1h]")["partials"].configs == {
        "cleanup.policy": "delete",
        "retention.ms": str(7 * 3600 * 1000),  # the key's life: its rotation and the grace
    }


_SAFE = {
    "retention.ms": "3600000",
    "cleanup.policy": "delete",
    "message.timestamp.type": "LogAppendTime",
    "segment.ms": "360000",
}


def test_guard_accepts_retention_up_to_the_window() -> None:
    assert _raw_zone_problems("sec", _SAFE, 3600) == []
    assert _raw_zone_problems("sec", {**_SAFE, "retention.ms": "60000", "cleanup.policy": "compact,delete"}, 3600) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("retention.ms", "-1"),
        ("retention.ms", "3600001"),
        ("retention.ms", None),
        ("cleanup.policy", "compact"),
        ("cleanup.policy", None),
        ("message.timestamp.type", "CreateTime"),
        ("message.timestamp.type", None),
        ("segment.ms", "604800000"),  # the broker default: a week past a one-hour window
        ("segment.ms", None),
    ],
)
def test_guard_names_topic_and_config_of_each_unsafe_or_unknown_value(key: str, value: str | None) -> None:
    configs = {**_SAFE, key: value} if value is not None else {k: v for k, v in _SAFE.items() if k != key}
    (problem,) = _raw_zone_problems("sec", configs, 3600)
    assert problem.startswith(f"sec: {key} is ")
