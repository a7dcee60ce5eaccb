"""``logscrub topics apply|check``: the cluster's topics made and checked as the config says (kafka-python).

Faust applies topic configs only when it creates a topic, so retention on an existing topic would
silently stay whatever someone set: here the cluster's effective values are compared and fixed.
"""

from __future__ import annotations

import time

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError, for_code

from logscrub.config import Config, KafkaConfig
from logscrub.kafka.refusals import refused_clearly
from logscrub.kafka.settings import kafka_python_kwargs
from logscrub.kafka.topic_specs import (
    Observed,
    TopicsError,
    TopicSpec,
    desired_topics,
    differences,
)

_METADATA_WAIT_MS = 30_000
_POLL_S = 0.1


def admin_client(k: KafkaConfig) -> KafkaAdminClient:
    """An admin client; a cluster that does not answer is a TopicsError."""
    try:
        with refused_clearly(k, "DESCRIBE", "the cluster"):
            return KafkaAdminClient(**kafka_python_kwargs(k), client_id=f"{k.app_id}-admin")
    except KafkaTimeoutError:
        raise TopicsError(f"no Kafka broker answered at {k.bootstrap_servers}") from None


def apply_topics(cfg: Config, admin: KafkaAdminClient) -> list[str]:
    """Create missing topics, add partitions and fix configs; one line per topic on what was done."""
    specs = desired_topics(cfg)
    observed = _observe(admin, specs)
    _create(admin, [s for s in specs if s.name not in observed])
    lines: list[str] = []
    grow: dict[str, int] = {}
    alter: dict[str, dict[str, str]] = {}
    for spec in specs:
        if spec.name not in observed:
            lines.append(f"created {spec.name}")
            continue
        changes: list[str] = []
        notes: list[str] = []
        for d in differences(spec, observed[spec.name]):
            if d.setting == "replication":
                notes.append(f"{d}; apply cannot change it (reassign partitions with Kafka's tools)")
            elif d.shrinks:
                notes.append(f"{spec.name}: cannot shrink from {d.cluster} to {d.wanted} partitions; left as is")
            elif d.setting == "partitions":
                grow[spec.name] = spec.partitions
                changes.append(f"partitions={d.wanted}")
            else:
                alter.setdefault(spec.name, {})[d.setting] = d.wanted
                changes.append(f"{d.setting}={d.wanted}")
        if changes:
            lines.append(f"updated {spec.name}: {', '.join(changes)}")
        lines.extend(notes)
        if not changes and not notes:
            lines.append(f"ok {spec.name}")
    _grow(admin, grow)
    _alter(admin, alter)
    _await_applied(admin, [s for s in specs if s.name not in observed or s.name in grow or s.name in alter])
    return lines


def check_topics(cfg: Config, admin: KafkaAdminClient) -> list[str]:
    """Every way the cluster differs from the config; [] when it agrees."""
    specs = desired_topics(cfg)
    observed = _observe(admin, specs)
    problems = []
    for spec in specs:
        if spec.name not in observed:
            problems.append(f"{spec.name}: missing on the cluster")
        else:
            problems.extend(str(d) for d in differences(spec, observed[spec.name]))
    return problems


def _observe(admin: KafkaAdminClient, specs: list[TopicSpec]) -> dict[str, Observed]:
    """The cluster's view of the topics that exist; missing topics are absent from the result."""
    layout: dict[str, tuple[int, int]] = {}
    for topic in admin.describe_topics([s.name for s in specs]):
        error = for_code(topic["error_code"])
        if error is UnknownTopicOrPartitionError:
            continue
        if topic["error_code"]:
            raise TopicsError(f"cannot describe topic {topic['name']}: {error.__name__}")
        partitions = topic["partitions"]
        replication = min((len(p["replica_nodes"]) for p in partitions), default=0)
        layout[topic["name"]] = (len(partitions), replication)
    existing = [s for s in specs if s.name in layout]
    if not existing:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, s.name, list(s.configs)) for s in existing]
    described = admin.describe_configs(resources, config_filter="all").get("topic", {})
    observed = {}
    for spec in existing:
        values = {key: entry["value"] for key, entry in described.get(spec.name, {}).items()}
        observed[spec.name] = Observed(*layout[spec.name], values)
    return observed


def _create(admin: KafkaAdminClient, specs: list[TopicSpec]) -> None:
    if not specs:
        return
    request = {
        s.name: {"num_partitions": s.partitions, "replication_factor": s.replication, "configs": s.configs}
        for s in specs
    }
    result = admin.create_topics(request, raise_errors=False)
    for topic in result["topics"]:
        if topic["error_code"]:
            reason = topic["error_message"] or for_code(topic["error_code"]).__name__
            raise TopicsError(f"cannot create topic {topic['name']}: {reason}")
    # Created is not yet usable: wait until every partition has a leader.
    try:
        admin.wait_for_topics([s.name for s in specs], timeout_ms=_METADATA_WAIT_MS)
    except KafkaTimeoutError:
        raise TopicsError(f"created topics got no leaders within {_METADATA_WAIT_MS // 1000}s") from None


def _grow(admin: KafkaAdminClient, counts: dict[str, int]) -> None:
    if not counts:
        return
    response = admin.create_partitions(counts, raise_errors=False)
    for result in response.results:
        if result.error_code:
            reason = result.error_message or for_code(result.error_code).__name__
            raise TopicsError(f"cannot add partitions to topic {result.name}: {reason}")


def _alter(admin: KafkaAdminClient, configs: dict[str, dict[str, str]]) -> None:
    if not configs:
        return
    resources = [ConfigResource(ConfigResourceType.TOPIC, name, dict(c)) for name, c in configs.items()]
    results = admin.alter_configs(resources, raise_on_unknown=False).get("topic", {})
    for name in configs:
        if results.get(name) != "OK":
            raise TopicsError(f"cannot update configs of topic {name}: {results.get(name, 'no answer')}")


def _await_applied(admin: KafkaAdminClient, specs: list[TopicSpec]) -> None:
    """Brokers apply accepted changes a little later: return only once they show them.

    Otherwise a worker started right after apply could be refused by its start-up guard.
    """
    deadline = time.monotonic() + _METADATA_WAIT_MS / 1000
    pending = specs
    while pending:
        observed = _observe(admin, pending)
        pending = [s for s in pending if s.name not in observed or _fixable(s, observed[s.name])]
        if pending and time.monotonic() > deadline:
            names = ", ".join(s.name for s in pending)
            raise TopicsError(f"the cluster accepted changes to {names} but did not show them in time")
        if pending:
            time.sleep(_POLL_S)


def _fixable(spec: TopicSpec, observed: Observed) -> bool:
    return any(d.fixable for d in differences(spec, observed))
