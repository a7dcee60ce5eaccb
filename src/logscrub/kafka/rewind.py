"""One partition read from its beginning up to an offset (aiokafka, no group, nothing committed).

A window owner given a partials partition reads back what came before its committed offset: the
marks of the slots written from it, which carry the day's counts its share cap needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition

from logscrub.config import KafkaConfig
from logscrub.kafka.settings import aiokafka_kwargs

_FETCH_MS = 500
STALLED_S = 30.0  # no record for this long: said in the log, once per stall (the read goes on)
log = logging.getLogger(__name__)


async def read_back(k: KafkaConfig, topic: str, partition: int, end: int, client_id: str) -> AsyncIterator[bytes]:
    """The values of ``partition`` of ``topic`` from its first retained record to ``end`` (exclusive)."""
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(
        **aiokafka_kwargs(k), client_id=client_id, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest",  # records deleted by retention meanwhile: on from the first left, not the end
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        progress, said = time.monotonic(), False
        while (position := await consumer.position(tp)) < end:
            batches = await consumer.getmany(tp, timeout_ms=_FETCH_MS)
            if batches.get(tp):
                progress, said = time.monotonic(), False
            elif not said and time.monotonic() - progress >= STALLED_S:
                log.warning("%s partition %d: reading back stalled at offset %d of %d (is the broker reachable?)",
                            topic, partition, position, end)
                said = True
            for record in batches.get(tp, ()):
                if record.offset >= end:
                    return
                if record.value is not None:
                    yield record.value
    finally:
        await consumer.stop()
