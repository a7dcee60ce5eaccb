"""`logscrub topics apply | check` and the worker's raw-zone guard against a real broker."""

from __future__ import annotations

import asyncio

import time
from collections.abc import Callable, Iterator

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from logscrub.config import Config, load
from logscrub.kafka.guard import assert_raw_zone_safe
from logscrub.kafka.topic_specs import ROLES, TopicsError, desired_topics
from logscrub.kafka.topics import admin_client, apply_topics, check_topics

WINDOW_MS = 3600 * 1000


def _cfg(bootstrap: str, prefix: str, **env: str) -> Config:
    return load(
        None,
        env={
            "LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "LOGSCRUB_SECURITY__WINDOW": "1h",
            **{f"LOGSCRUB_TOPICS__{r.upper()}__NAME": f"{prefix}.{r}" for r in ROLES},
            **{f"LOGSCRUB_{k.upper()}": v for k, v in env.items()},
        },
    )


def _configs(admin: KafkaAdminClient, topic: str) -> dict[str, str]:
    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
    return {k: v["value"] for k, v in described["topic"][topic].items()}


def _partitions(admin: KafkaAdminClient, topic: str) -> int:
    (described,) = admin.describe_topics([topic])
    return len(described["partitions"])


def _until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """The broker applies accepted config changes asynchronously: poll until it shows them."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def admin(kafka_bootstrap: str, topic_name: str) -> Iterator[KafkaAdminClient]:
    """The client under test, built from config the way the CLI builds it."""
    with admin_client(_cfg(kafka_bootstrap, topic_name).kafka) as client:
        yield client


def test_apply_creates_every_topic_with_its_configs(
    kafka_bootstrap: str, topic_name: str, admin: KafkaAdminClient, kafka_admin: KafkaAdminClient
) -> None:
    cfg = _cfg(kafka_bootstrap, topic_name, topics__raw__partitions="3")

    assert apply_topics(cfg, admin) == [f"created {topic_name}.{r}" for r in ROLES]

    for spec in desired_topics(cfg):
        on_cluster = _configs(kafka_admin, spec.name)
        assert {k: on_cluster[k] for k in spec.configs} == spec.configs, spec.name
        assert _partitions(kafka_admin, spec.name) == spec.partitions
    assert _configs(kafka_admin, f"{topic_name}.security")["retention.ms"] == str(WINDOW_MS)


def test_apply_twice_changes_nothing(kafka_bootstrap: str, topic_name: str, admin: KafkaAdminClient) -> None:
    cfg = _cfg(kafka_bootstrap, topic_name)
    apply_topics(cfg, admin)

    assert apply_topics(cfg, admin) == [f"ok {topic_name}.{r}" for r in ROLES]
    assert check_topics(cfg, admin) == []


def test_topic_made_by_someone_else_is_reported_then_fixed(
    kafka_bootstrap: str, topic_name: str, admin: KafkaAdminClient, kafka_admin: KafkaAdminClient
) -> None:
    cfg = _cfg(kafka_bootstrap, topic_name)
    security = f"{topic_name}.security"
    forever = {"num_partitions": 1, "replication_factor": 1, "configs": {"retention.ms": "-1"}}
    kafka_admin.create_topics({security: forever})
    _until(lambda: security in kafka_admin.list_topics(), "the topic to be listed")

    problems = check_topics(cfg, admin)
    assert f"{security}: retention.ms is -1 on the cluster, config wants {WINDOW_MS}" in problems
    assert f"{security}: message.timestamp.type is CreateTime on the cluster, config wants LogAppendTime" in problems
    assert f"{topic_name}.raw: missing on the cluster" in problems

    lines = apply_topics(cfg, admin)
    fixed = f"retention.ms={WINDOW_MS}, segment.ms=360000, message.timestamp.type=LogAppendTime"
    assert f"updated {security}: {fixed}" in lines
    assert _configs(kafka_admin, security)["retention.ms"] == str(WINDOW_MS)
    assert check_topics(cfg, admin) == []


def test_guard_refuses_a_long_lived_security_topic_until_apply(
    kafka_bootstrap: str, topic_name: str, admin: KafkaAdminClient, kafka_admin: KafkaAdminClient
) -> None:
    cfg = _cfg(kafka_bootstrap, topic_name)
    security = f"{topic_name}.security"
    apply_topics(cfg, admin)
    result = kafka_admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, security, {"retention.ms": str(WINDOW_MS + 1)})]
    )
    assert result["topic"][security] == "OK"
    _until(lambda: _configs(kafka_admin, security)["retention.ms"] == str(WINDOW_MS + 1), "the longer retention")

    with pytest.raises(TopicsError) as refused:
        asyncio.run(assert_raw_zone_safe(cfg))
    assert f"{security}: retention.ms is {WINDOW_MS + 1}" in str(refused.value)
    assert f"{topic_name}.raw" not in str(refused.value)

    apply_topics(cfg, admin)
    asyncio.run(assert_raw_zone_safe(cfg))


def test_guard_refuses_missing_raw_zone_topics(kafka_bootstrap: str, topic_name: str) -> None:
    with pytest.raises(TopicsError) as refused:
        asyncio.run(assert_raw_zone_safe(_cfg(kafka_bootstrap, topic_name)))
    for role in ("raw", "security", "rejected"):
        assert f"{topic_name}.{role}: missing on the cluster" in str(refused.value)


def test_partitions_grow_but_never_shrink(
    kafka_bootstrap: str, topic_name: str, admin: KafkaAdminClient, kafka_admin: KafkaAdminClient
) -> None:
    raw = f"{topic_name}.raw"
    apply_topics(_cfg(kafka_bootstrap, topic_name), admin)

    grown = apply_topics(_cfg(kafka_bootstrap, topic_name, topics__raw__partitions="3"), admin)
    assert f"updated {raw}: partitions=3" in grown
    assert _partitions(kafka_admin, raw) == 3

    fewer = _cfg(kafka_bootstrap, topic_name, topics__raw__partitions="2")
    assert check_topics(fewer, admin) == [
        f"{raw}: partitions is 3 on the cluster, config wants 2 (partitions cannot shrink)"
    ]
    assert f"{raw}: cannot shrink from 3 to 2 partitions; left as is" in apply_topics(fewer, admin)
    assert _partitions(kafka_admin, raw) == 3


def test_replication_is_reported_not_changed(
    kafka_bootstrap: str, topic_name: str, admin: KafkaAdminClient
) -> None:
    apply_topics(_cfg(kafka_bootstrap, topic_name), admin)
    more = _cfg(kafka_bootstrap, topic_name, topics__events__replication="2")

    assert check_topics(more, admin) == [f"{topic_name}.events: replication is 1 on the cluster, config wants 2"]
    assert any(line.startswith(f"{topic_name}.events: replication is 1") for line in apply_topics(more, admin))


def test_a_topic_the_cluster_cannot_create_is_named(
    kafka_bootstrap: str, topic_name: str, admin: KafkaAdminClient
) -> None:
    cfg = _cfg(kafka_bootstrap, topic_name, topics__events__replication="3")  # one broker here

    with pytest.raises(TopicsError, match=f"cannot create topic {topic_name}.events: "):
        apply_topics(cfg, admin)
