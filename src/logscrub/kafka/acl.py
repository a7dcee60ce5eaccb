"""The ACLs of logscrub's principals: ``logscrub topics acl`` prints them, ``--apply`` creates them.

Least privilege, from the data path: shippers only write raw lines; workers read them and write
the outputs; analysts read the two analytics topics and nothing of the raw zone; responders read
the sealed raw lines and the keys that open them, and write what their commands record (erasures
in the keys topic, the audit trail, restrictions).

Consumer groups: the workers' two (``<app_id>``, ``<app_id>.raw``) are theirs alone, since a member
that joins a group takes partitions from the workers and forces a rebalance. Analysts' tools pick
their own group ids under ``kafka.analyst_group_prefix`` (a PREFIXED ACL, which the config refuses
when the app id starts with it); responders' commands read without a group and get none.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logscrub.config import Config, KafkaConfig
from logscrub.errors import Refused

# kafka-python is imported only to talk to the cluster: it is slow to import, and the table needs none.
if TYPE_CHECKING:
    from kafka import KafkaAdminClient
    from kafka.admin import ACL

PRINCIPAL = re.compile(r"[A-Za-z]+:\S+")  # Kafka's "Type:name", e.g. User:analyst


class AclError(Refused):
    """The cluster cannot take the ACLs."""


@dataclass(frozen=True)
class Principals:
    workers: str = "User:logscrub-worker"
    shippers: str = "User:logscrub-shipper"
    analysts: str = "User:analyst"
    responders: str = "User:responder"


@dataclass(frozen=True)
class Grant:
    """Operations one principal may do on one resource (one row of the table, one ACL per operation)."""

    role: str  # a Principals field
    principal: str
    resource_type: str  # Kafka's ResourceType name: TOPIC, GROUP, TRANSACTIONAL_ID
    name: str
    operations: tuple[str, ...]  # Kafka's ACLOperation names: READ, WRITE, DESCRIBE, ...
    prefixed: bool = False  # the name is a prefix (the analysts' consumer groups)

    @property
    def resource(self) -> str:
        kind = self.resource_type.lower().replace("_", "-")
        if self.prefixed:
            return f"{kind} {self.name}* (prefix)"
        return f"{kind} {self.name} (any)" if self.name == "*" else f"{kind} {self.name}"


def desired_acls(cfg: Config, principals: Principals) -> list[Grant]:
    """Every grant, by role; anything not listed is refused (the cluster must deny by default)."""
    t, k = cfg.topics, cfg.kafka
    read, write, describe = "READ", "WRITE", "DESCRIBE"
    # The worker refuses to start until it has checked the raw zone's retention (describe configs).
    raw_zone = {getattr(t, role).name for role in t.RAW_ZONE}

    def on_topics(role: str, names: list[str], *ops: str) -> list[Grant]:
        grants = []
        for name in names:
            extra = ("DESCRIBE_CONFIGS",) if role == "workers" and name in raw_zone else ()
            grants.append(Grant(role, getattr(principals, role), "TOPIC", name, (*ops, describe, *extra)))
        return grants

    workers = [
        *on_topics("workers", [t.raw.name, t.restrictions.name], read),
        *on_topics("workers", [t.partials.name, t.vocabulary.name, t.keys.name], read, write),
        *on_topics("workers", [t.events.name, t.traffic.name, t.security.name, t.rejected.name], write),
        # faust's consumer group (the partials) is the app id; the raw topic's group is <app id>.raw.
        Grant("workers", principals.workers, "GROUP", k.app_id, (read,)),
        Grant("workers", principals.workers, "GROUP", f"{k.app_id}.raw", (read,)),
    ]
    return [
        *workers,
        *on_topics("shippers", [t.raw.name], write),
        *on_topics("analysts", [t.events.name, t.traffic.name], read),
        # Analysts' own tools pick their group ids, under a prefix that is never the workers' groups'.
        Grant("analysts", principals.analysts, "GROUP", k.analyst_group_prefix, (read,), prefixed=True),
        *on_topics("responders", [t.security.name, t.rejected.name], read),
        *on_topics("responders", [t.keys.name], read, write),
        *on_topics("responders", [t.audit.name, t.restrictions.name], write),
    ]


def render_table(grants: list[Grant]) -> str:
    """The grants as an aligned text table, one row per principal and resource."""
    rows = [("role", "principal", "resource", "operations")]
    rows += [(g.role, g.principal, g.resource, ", ".join(g.operations)) for g in grants]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3] + "\n" for row in rows
    )


def render_kafka_acls(grants: list[Grant], bootstrap: str, command_config: str | None = None) -> str:
    """The grants as ``kafka-acls.sh --add`` commands, one per grant: the same ACLs ``--apply`` creates."""
    connect = ["--bootstrap-server", ",".join(server.strip() for server in bootstrap.split(","))]
    if command_config is not None:
        connect += ["--command-config", command_config]
    lines = []
    for g in grants:
        words = ["kafka-acls.sh", *connect, "--add", "--allow-principal", g.principal]
        for op in g.operations:
            words += ["--operation", "".join(part.capitalize() for part in op.split("_"))]  # DESCRIBE_CONFIGS
        words += [f"--{g.resource_type.lower().replace('_', '-')}", g.name]
        if g.prefixed:
            words += ["--resource-pattern-type", "prefixed"]
        lines.append(shlex.join(words) + "\n")
    return "".join(lines)


def to_acls(grants: list[Grant]) -> list[ACL]:
    """One ALLOW ACL (from any host) per grant and operation."""
    from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourceType

    return [
        ACL(
            principal=g.principal,
            host="*",
            operation=ACLOperation[op],
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePattern(
                ResourceType[g.resource_type],
                g.name,
                ACLResourcePatternType.PREFIXED if g.prefixed else ACLResourcePatternType.LITERAL,
            ),
        )
        for g in grants
        for op in g.operations
    ]


def apply_acls(k: KafkaConfig, admin: KafkaAdminClient, grants: list[Grant]) -> list[str]:
    """Create the ACLs the cluster lacks (applying twice creates nothing); one line per ACL created."""
    from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType
    from kafka.admin import ResourcePatternFilter, ResourceType
    from kafka.errors import AuthorizationError, SecurityDisabledError

    from logscrub.kafka.refusals import refusal, refused_clearly

    wanted = to_acls(grants)
    every_acl = ACLFilter(
        principal=None,
        host=None,
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
    )
    with refused_clearly(k, "DESCRIBE", "the cluster"):
        try:
            existing, _ = admin.describe_acls(every_acl)
        except SecurityDisabledError:
            raise AclError(
                "the cluster has no authorizer (authorizer.class.name), so it cannot enforce ACLs"
            ) from None
    have = set(existing)
    missing = [acl for acl in wanted if acl not in have]
    if missing:
        with refused_clearly(k, "ALTER", "the cluster"):
            result = admin.create_acls(missing)
        failed = result["failed"]  # kafka-python lists the error classes
        if failed:
            if issubclass(failed[0], AuthorizationError):
                raise refusal(k, failed[0](), "ALTER", "the cluster")
            raise AclError(f"the cluster refused {len(failed)} of {len(missing)} ACLs ({failed[0].__name__})")
    lines = [f"created {_describe(acl)}" for acl in missing]
    lines.append(f"{len(wanted) - len(missing)} of {len(wanted)} ACLs were already in place")
    return lines


def _describe(acl: ACL) -> str:
    pattern = acl.resource_pattern
    prefix = " (prefix)" if pattern.pattern_type.name == "PREFIXED" else ""
    kind = pattern.resource_type.name.lower().replace("_", "-")
    return f"ALLOW {acl.principal} {acl.operation.name} on {kind} {pattern.resource_name}{prefix}"
