"""A topic read from its beginning into process state, and kept current, on the worker's event loop.

The worker follows the keys, restrictions and vocabulary topics this way (aiokafka, no consumer
group): a record another worker writes reaches every worker within a fetch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError, UnknownTopicOrPartitionError

from logscrub.config import KafkaConfig
from logscrub.errors import Refused
from logscrub.kafka.settings import aiokafka_kwargs

log = logging.getLogger("logscrub.follower")

Apply = Callable[[str, bytes | None, int, int], None]  # (record key, value or None, partition, offset)
_FETCH_MS = 500


class FollowError(Refused):
    """A followed topic cannot be read: state that depends on it would silently go stale."""


class TopicFollower:
    """Calls ``apply`` for every record of ``topic``, in order, from a task of its own."""

    def __init__(self, k: KafkaConfig, topic: str, apply: Apply, client_id: str) -> None:
        self.topic = topic
        self._apply = apply
        self._consumer = AIOKafkaConsumer(
            **aiokafka_kwargs(k),
            client_id=client_id,
            group_id=None,  # no group: every partition of the topic, from the beginning
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        self._positions: dict[int, int] = {}
        self._advanced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failed: str | None = None

    async def start(self, timeout_s: float = 60.0) -> None:
        """Read what the topic holds now, then keep reading in the background."""
        self._consumer.subscribe([self.topic])
        try:
            await self._consumer.start()
            ends = await self._consumer.end_offsets(list(self._consumer.assignment()))
        except UnknownTopicOrPartitionError:
            await self._consumer.stop()
            raise FollowError(f"topic {self.topic} was not found on the cluster (run `logscrub topics apply`)") from None
        except KafkaError as e:
            await self._consumer.stop()
            raise FollowError(f"topic {self.topic}: cannot read it ({type(e).__name__})") from None
        self._task = asyncio.create_task(self._run(), name=f"follow-{self.topic}")
        for tp, end in ends.items():
            await self.wait_for(tp.partition, end, timeout_s)

    async def wait_for(self, partition: int, offset: int, timeout_s: float = 30.0) -> None:
        """Return once every record before ``offset`` of ``partition`` was applied."""
        async with asyncio.timeout(timeout_s):
            while self._positions.get(partition, 0) < offset:
                if self._failed:
                    raise FollowError(f"topic {self.topic}: reading stopped ({self._failed})")
                self._advanced.clear()
                await self._advanced.wait()

    async def _run(self) -> None:
        consumer, apply = self._consumer, self._apply
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=_FETCH_MS)
                for tp, records in batches.items():
                    for r in records:
                        apply(r.key.decode("utf-8", "replace") if r.key else "", r.value, tp.partition, r.offset)
                    self._positions[tp.partition] = records[-1].offset + 1
                for tp in consumer.assignment():  # past compacted-away offsets and transaction markers too
                    position = await consumer.position(tp)
                    if position > self._positions.get(tp.partition, 0):
                        self._positions[tp.partition] = position
                self._advanced.set()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - waiters must hear that reading stopped
            self._failed = type(e).__name__
            self._advanced.set()
            log.error("topic %s: reading stopped (%s)", self.topic, self._failed)

    @property
    def failed(self) -> str | None:
        return self._failed

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()
