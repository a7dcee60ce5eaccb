"""Connection settings every Kafka client of logscrub shares (admin, shipper, key store, search)."""

from __future__ import annotations

from typing import Any

from logscrub.config import Config


def kafka_python_kwargs(cfg: Config) -> dict[str, Any]:
    """Keyword arguments for any kafka-python client: the bootstrap servers and how to reach them."""
    return {"bootstrap_servers": [s.strip() for s in cfg.kafka.bootstrap_servers.split(",")]}
