"""The topics the config asks for, and what makes a raw-zone topic unsafe: pure, for every client library.

``logscrub topics apply|check`` (kafka-python, ``kafka.topics``) and the worker's start-up guard
(aiokafka, ``kafka.guard``) compare the cluster with these.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from logscrub.config import Config, TopicsConfig
from logscrub.errors import Refused
from logscrub.crypto.keyring import VISITOR_KEY_GRACE

ROLES = tuple(f.name for f in dataclasses.fields(TopicsConfig))
_SEGMENT_MS_MIN = 1_000
_SEGMENT_MS_MAX = 3_600_000


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
class Observed:
    partitions: int
    replication: int
    configs: dict[str, str]  # effective values (topic, broker or default) of the keys we own


@dataclass(frozen=True)
class Difference:
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
            # Partials carry keyed visitor hashes: gone with the key they were made with, which
            # outlives its day by the grace. So does the first hour's slot mark, which a worker
            # taking the day over at its end reads back (the day's counts, its own slot's events).
            configs["retention.ms"] = str((cfg.keys.visitor_rotation + VISITOR_KEY_GRACE) * 1000)
        elif role == "vocabulary":
            # Keyed hashes of the day's values and clients: useless, and gone, once their key is.
            configs["retention.ms"] = str((cfg.keys.visitor_rotation + VISITOR_KEY_GRACE) * 1000)
        elif topic.retention is not None:
            configs["retention.ms"] = str(topic.retention * 1000)
        if role in ("events", "traffic"):
            # A record's time is its coarse slot or window: a cluster default of LogAppendTime would
            # stamp each with the moment it was written instead.
            configs["message.timestamp.type"] = "CreateTime"
        specs.append(TopicSpec(role, topic.name, topic.partitions, topic.replication, configs))
    return specs


def differences(spec: TopicSpec, observed: Observed) -> list[Difference]:
    out = []
    if observed.partitions != spec.partitions:
        out.append(Difference(spec.name, "partitions", str(observed.partitions), str(spec.partitions)))
    if observed.replication != spec.replication:
        out.append(Difference(spec.name, "replication", str(observed.replication), str(spec.replication)))
    for key, wanted in spec.configs.items():
        have = observed.configs.get(key)
        if have != wanted:
            out.append(Difference(spec.name, key, "unknown" if have is None else have, wanted))
    return out


def raw_zone_problems(topic: str, configs: dict[str, str], window_s: int) -> list[str]:
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




def raw_zone_refusal(cfg: Config, observed: dict[str, Observed]) -> TopicsError | None:
    """Why a worker may not start, given the cluster's raw-zone topics (missing ones are absent)."""
    problems = []
    for spec in desired_topics(cfg):
        if spec.role not in TopicsConfig.RAW_ZONE:
            continue
        if spec.name not in observed:
            problems.append(f"{spec.name}: missing on the cluster")
        else:
            problems.extend(raw_zone_problems(spec.name, observed[spec.name].configs, cfg.security.window))
    if not problems:
        return None
    return TopicsError(
        f"raw-zone topics are not safe for security.window {cfg.security.window}s: "
        f"{'; '.join(problems)} (run `logscrub topics apply`)"
    )


def raw_zone_specs(cfg: Config) -> list[TopicSpec]:
    return [s for s in desired_topics(cfg) if s.role in TopicsConfig.RAW_ZONE]
