"""The keys topic as the worker's key store, on its event loop: followed by a task, written by the
worker's producer together with the lines that need the keys."""

from __future__ import annotations

import time

from logscrub.config import KafkaConfig
from logscrub.crypto.keyring import Key, KeyNeeded
from logscrub.crypto.master import MasterKey
from logscrub.kafka.follower import TopicFollower
from logscrub.kafka.keyrecords import KeyStoreError, KeyTopicState, key_record, wrapped_key
from logscrub.kafka.sink import KafkaSink, OutputFailed

CLAIM_TIMEOUT_S = 30.0


class SharedKeys:
    """A ``KeyStore`` whose claims are awaited (``claim`` raises KeyNeeded; the raw loop calls
    ``claim_async``); destroyed keys' tombstones and new subject keys wait in ``pending``."""

    def __init__(self, k: KafkaConfig, topic: str, master: MasterKey, sink: KafkaSink) -> None:
        self.topic = topic
        self.state = KeyTopicState(master)
        self.sink = sink
        self.pending: list[tuple[str, bytes | None]] = []  # (record key, value or tombstone)
        self.follower = TopicFollower(
            k, topic, lambda key, value, _p, offset: self.state.apply(key, value, offset), f"{k.app_id}-keys"
        )

    async def start(self) -> None:
        await self.follower.start()

    async def stop(self) -> None:
        await self.follower.stop()

    def load(self, ring: str) -> list[Key]:
        return self.state.live(ring, time.time())

    def claim(self, ring: str, candidate: Key) -> Key:
        raise KeyNeeded(ring, candidate)

    async def claim_async(self, ring: str, candidate: Key) -> Key:
        """Store ``candidate``, read the topic up to it, and answer the period's first live key."""
        record, value = wrapped_key(self.state.master, ring, candidate)
        try:
            metadata = await (await self.sink.send(self.topic, value, record.encode(), partition=0))
        except (OutputFailed, Exception) as e:  # noqa: BLE001 - any failure: no line may use the key
            raise KeyStoreError(f"keys topic {self.topic}: cannot store a new key ({type(e).__name__})") from None
        try:
            await self.follower.wait_for(0, metadata.offset + 1, CLAIM_TIMEOUT_S)
        except TimeoutError:
            raise KeyStoreError(f"keys topic {self.topic}: the new key was not read back in time") from None
        return self.state.winner(ring, candidate)

    def forget(self, ring: str, dead: list[Key]) -> None:
        self.state.forget(ring, dead)
        self.pending += [(key_record(ring, key.kid), None) for key in dead]

    def take_pending(self) -> list[tuple[str, bytes | None]]:
        pending, self.pending = self.pending, []
        return pending
