"""One partition read from its beginning up to an offset (aiokafka, no group, nothing committed).

A window owner given a partials partition reads back what came before its committed offset: the
marks of the slots written from it, which carry the day's counts its share cap needs; at once for
a partition with nothing left to read (``nothing_left``). It reads on to the partition's end for
the windows' closing records and marks its replay will come to: a window closed before a crash is
then closed at the same partial again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from logscrub.config import KafkaConfig
from logscrub.kafka.settings import aiokafka_kwargs

_FETCH_MS = 500
STALLED_S = 30.0  # no record for this long: said in the log, once per stall (the read goes on)
log = logging.getLogger(__name__)


async def read_back(
    k: KafkaConfig, topic: str, partition: int, end: int | None, client_id: str,
    stop: Callable[[], bool] = lambda: False,
) -> AsyncIterator[tuple[int, bytes]]:
    """The offsets and values of ``partition`` of ``topic`` from its first retained record to
    ``end`` (exclusive; None: its end offset when the read begins); no more once ``stop()`` (checked
    at every fetch, records or none)."""
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(
        **aiokafka_kwargs(k), client_id=client_id, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest",  # records deleted by retention meanwhile: on from the first left, not the end
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        if end is None:
            end = (await consumer.end_offsets([tp]))[tp]
        await consumer.seek_to_beginning(tp)
        progress, said = time.monotonic(), False
        while (position := await consumer.position(tp)) < end and not stop():
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
                    yield record.offset, record.value
    finally:
        await consumer.stop()


async def nothing_left(k: KafkaConfig, group: str, topic: str, partitions: set[int], client_id: str) -> dict[int, int]:
    """Those of ``partitions`` of ``topic`` on which consumer group ``group`` has nothing left to
    read (its committed offset, or the first retained one when none is, is the end offset), with
    that offset: a worker given one reads its marks back now, as no first record will prompt it."""
    tps = [TopicPartition(topic, p) for p in partitions]
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(k), client_id=client_id)
    consumer = AIOKafkaConsumer(**aiokafka_kwargs(k), client_id=client_id, group_id=None, enable_auto_commit=False)
    await admin.start()
    try:
        await consumer.start()
        try:
            committed = await admin.list_consumer_group_offsets(group, partitions=tps)
            first = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
        finally:
            await consumer.stop()
    finally:
        await admin.close()
    left = {}
    for tp in tps:
        at = committed.get(tp)
        start = at.offset if at is not None and at.offset >= 0 else first[tp]
        if start >= ends[tp]:
            left[tp.partition] = ends[tp]
    return left
