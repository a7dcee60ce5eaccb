"""Read a whole topic as it is now: for the demo, the tests and quick looks by hand."""

from __future__ import annotations

from logscrub.config import Config, KafkaConfig
from logscrub.kafka.scan import scan


def read_topic(source: Config | str, topic: str, timeout_s: float = 30.0) -> list[bytes]:
    """Every record value from the beginning to the end offsets at the time of the call.

    ``source`` is the config, or the bootstrap address of a cluster without security. A topic
    the principal may not read, or that does not exist, is a Refused that names it.
    """
    cfg = source if isinstance(source, Config) else Config(kafka=KafkaConfig(bootstrap_servers=source))
    return [r.value for r in scan(cfg, topic, timeout_s)]
