"""Topics as the config says: created, grown and configured by ``logscrub topics apply``.

Faust applies topic configs only when it creates a topic, so retention on an existing topic
would silently stay whatever someone set. Here the cluster's effective values are compared with
the wanted ones, and the worker refuses to start while a raw-zone topic could keep raw lines
past the security window.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError, for_code

from logscrub.config import Config, KafkaConfig, TopicsConfig
from logscrub.errors import Refused
from logscrub.kafka.refusals import refused_clearly
from logscrub.kafka.settings import kafka_python_kwargs

ROLES = tuple(f.name for f in dataclasses.fields(TopicsConfig))
_SEGMENT_MS_MIN = 1_000
_SEGMENT_MS_MAX = 3_600_000
_METADATA_WAIT_MS = 30_000
_POLL_S = 0.1


class TopicsError(Refused):
    """The cluster's topics cannot be made, or are not, what the config needs."""


@dataclass(frozen=True)
class TopicSpec:
    role: str  # the TopicsConfig field name
    name: str
    partitions: int
    replication: int
    configs: dict[str, str]  # the Kafka topic configs logscrub owns


@dataclass(frozen=True)
class _Observed:
    partitions: int
    replication: int
    configs: dict[str, str]  # effective values (topic, broker or default) of the keys we own


@dataclass(frozen=True)
class _Difference:
    topic: str
    setting: str  # "partitions", "replication" or a topic config key
    cluster: str
    wanted: str

    def __str__(self) -> str:
        line = f"{self.topic}: {self.setting} is {self.cluster} on the cluster, config wants {self.wanted}"
        if self.shrinks:
            line += " (partitions cannot shrink)"
        return line

    @property
    def shrinks(self) -> bool:
        return self.setting == "partitions" and int(self.cluster) > int(self.wanted)

    @property
    def fixable(self) -> bool:
        """Whether apply can make the cluster agree."""
        return self.setting != "replication" and not self.shrinks


def desired_topics(cfg: Config) -> list[TopicSpec]:
    """Every topic with the configs it must carry; raw-zone retention follows the security window."""
    window_ms = cfg.security.window * 1000
    # Retention deletes whole segments only: short segments keep raw lines close to the window.
    segment_ms = min(max(window_ms // 10, _SEGMENT_MS_MIN), _SEGMENT_MS_MAX)
    specs = []
    for role in ROLES:
        topic = getattr(cfg.topics, role)
        configs = {"cleanup.policy": "delete"}
        if role in TopicsConfig.RAW_ZONE:
            configs["retention.ms"] = str((topic.retention or cfg.security.window) * 1000)
            configs["segment.ms"] = str(segment_ms)
            # Producers' timestamps must not decide when raw lines are deleted.
            configs["message.timestamp.type"] = "LogAppendTime"
            if role == "keys":
                # A destroyed key's tombstone should wipe its record soon, not at the next retention pass.
                configs["cleanup.policy"] = "compact,delete"
                configs["min.compaction.lag.ms"] = "0"
                configs["max.compaction.lag.ms"] = str(segment_ms)
                configs["delete.retention.ms"] = str(segment_ms)
                configs["min.cleanable.dirty.ratio"] = "0.01"
        elif role == "restrictions":
            # A restriction holds until it is lifted: latest value per subject, never aged out.
            configs["cleanup.policy"] = "compact"
        elif role == "partials":
            # Partials carry keyed visitor hashes: gone with the key they were made with.
            configs["retention.ms"] = str(cfg.keys.visitor_rotation * 1000)
        elif topic.retention is not None:
            configs["retention.ms"] = str(topic.retention * 1000)
        specs.append(TopicSpec(role, topic.name, topic.partitions, topic.replication, configs))
    return specs


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
        for d in _differences(spec, observed[spec.name]):
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
            problems.extend(str(d) for d in _differences(spec, observed[spec.name]))
    return problems


def assert_raw_zone_safe(cfg: Config, admin: KafkaAdminClient) -> None:
    """Refuse to run a worker whose raw-zone topics would keep raw lines past the security window."""
    specs = [s for s in desired_topics(cfg) if s.role in TopicsConfig.RAW_ZONE]
    observed = _observe(admin, specs)
    problems = []
    for spec in specs:
        if spec.name not in observed:
            problems.append(f"{spec.name}: missing on the cluster")
        else:
            problems.extend(_raw_zone_problems(spec.name, observed[spec.name].configs, cfg.security.window))
    if problems:
        raise TopicsError(
            f"raw-zone topics are not safe for security.window {cfg.security.window}s: "
            f"{'; '.join(problems)} (run `logscrub topics apply`)"
        )


def _differences(spec: TopicSpec, observed: _Observed) -> list[_Difference]:
    out = []
    if observed.partitions != spec.partitions:
        out.append(_Difference(spec.name, "partitions", str(observed.partitions), str(spec.partitions)))
    if observed.replication != spec.replication:
        out.append(_Difference(spec.name, "replication", str(observed.replication), str(spec.replication)))
    for key, wanted in spec.configs.items():
        have = observed.configs.get(key)
        if have != wanted:
            out.append(_Difference(spec.name, key, "unknown" if have is None else have, wanted))
    return out


def _raw_zone_problems(topic: str, configs: dict[str, str], window_s: int) -> list[str]:
    """Why a raw-zone topic could keep records longer than the window; an unreadable value fails closed."""
    problems = []
    retention = configs.get("retention.ms")
    try:
        retention_ms = int(retention) if retention is not None else None
    except ValueError:
        retention_ms = None
    if retention_ms is None or retention_ms < 0 or retention_ms > window_s * 1000:
        shown = "-1 (forever)" if retention_ms is not None and retention_ms < 0 else retention or "unknown"
        problems.append(f"{topic}: retention.ms is {shown}, wanted at most {window_s * 1000}")
    policy = configs.get("cleanup.policy")
    if policy is None or "delete" not in [p.strip() for p in policy.split(",")]:
        problems.append(f"{topic}: cleanup.policy is {policy or 'unknown'}, which never deletes by time")
    segment = configs.get("segment.ms")
    if segment is None or not segment.isdigit() or int(segment) > window_s * 1000:
        # Retention deletes whole segments: with the broker's 7-day default, raw lines outlive a
        # short window by up to a week.
        problems.append(f"{topic}: segment.ms is {segment or 'unknown'}, wanted at most {window_s * 1000}")
    stamps = configs.get("message.timestamp.type")
    if stamps != "LogAppendTime":
        problems.append(f"{topic}: message.timestamp.type is {stamps or 'unknown'}, not LogAppendTime")
    return problems


def _observe(admin: KafkaAdminClient, specs: list[TopicSpec]) -> dict[str, _Observed]:
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
        observed[spec.name] = _Observed(*layout[spec.name], values)
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

    Otherwise a worker started right after apply could be refused by assert_raw_zone_safe.
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


def _fixable(spec: TopicSpec, observed: _Observed) -> bool:
    return any(d.fixable for d in _differences(spec, observed))
