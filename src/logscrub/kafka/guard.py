"""The worker's start-up guard, on aiokafka: no worker runs while a raw-zone topic could keep raw
lines past the security window (missing, retention or segments too long, no delete, producer time)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError

from logscrub.config import Config
from logscrub.kafka.settings import aiokafka_kwargs
from logscrub.kafka.topic_specs import Observed, TopicsError, raw_zone_refusal, raw_zone_specs

_UNKNOWN_TOPIC = 3  # Kafka's UNKNOWN_TOPIC_OR_PARTITION


async def assert_raw_zone_safe(cfg: Config) -> None:
    """Raise TopicsError naming every problem; a cluster that cannot be asked is a TopicsError too."""
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(cfg.kafka), client_id=f"{cfg.kafka.app_id}-guard")
    try:
        await admin.start()
    except KafkaConnectionError:
        raise TopicsError(f"no Kafka broker answered at {cfg.kafka.bootstrap_servers}") from None
    try:
        refusal = raw_zone_refusal(cfg, await _observe(admin, cfg))
    except KafkaError as e:
        raise TopicsError(f"cannot check the raw-zone topics ({type(e).__name__})") from None
    finally:
        await admin.close()
    if refusal is not None:
        raise refusal


async def _observe(admin: AIOKafkaAdminClient, cfg: Config) -> dict[str, Observed]:
    specs = raw_zone_specs(cfg)
    layout = {}
    for topic in await admin.describe_topics([s.name for s in specs]):
        if topic["error_code"] == _UNKNOWN_TOPIC:
            continue
        if topic["error_code"]:
            raise TopicsError(f"cannot describe topic {topic['topic']} (error code {topic['error_code']})")
        partitions = topic["partitions"]
        layout[topic["topic"]] = (len(partitions), min((len(p["replicas"]) for p in partitions), default=0))
    existing = [s for s in specs if s.name in layout]
    if not existing:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, s.name, dict.fromkeys(s.configs)) for s in existing]
    observed = {}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            name = resource["resource_name"]
            configs = {e["config_names"]: e["config_value"] for e in resource["config_entries"]}
            observed[name] = Observed(*layout[name], configs)
    return observed
