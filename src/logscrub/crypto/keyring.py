"""Rotating secrets with a hard end: a key per period, destroyed with everything that can open it.

Visitor keys (analytics hashes) and data keys (sealed raw lines) are both rings; their lifetimes
and why are in docs/architecture.md ("Keys").
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

KEY_BYTES = 32
VISITOR_KEY_GRACE = 3600  # a visitor key outlives its day by this: late lines may still join the day


@dataclass(frozen=True, slots=True)
class Key:
    kid: str
    period: int
    secret: bytes
    created: float
    expires: float


class KeyNeeded(Exception):
    """A store that cannot answer a claim at once (the worker's, on an event loop) raises this: the
    caller claims ``candidate`` asynchronously, gives the answer to ``KeyRing.adopt`` and tries again."""

    def __init__(self, ring: str, candidate: Key) -> None:
        super().__init__(ring)
        self.ring = ring
        self.candidate = candidate


class KeyStore(Protocol):
    """Where a ring's keys are shared between processes; every process must use the same key per period."""

    def load(self, ring: str) -> list[Key]:
        """The live keys the store holds for ``ring``, the store's key of each period (what ``claim``
        answers for it) first: two processes may have stored a key for one period."""
        ...

    def claim(self, ring: str, candidate: Key) -> Key:
        """The store's key for ``candidate.period``: ``candidate`` itself unless another process was first;
        or KeyNeeded, when the answer must be awaited."""
        ...

    def forget(self, ring: str, dead: list[Key]) -> None:
        """Destroy the store's copies of keys whose life is over."""
        ...


class KeyRing:
    """Keys by period, created on first use and destroyed when their life ends."""

    def __init__(
        self,
        name: str,
        rotation: int,
        lifetime: int,
        store: KeyStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.rotation = rotation
        if lifetime < rotation:
            raise ValueError(f"{name} keys would die before their period ends")
        self.lifetime = lifetime  # seconds a key lives from the start of its period
        self.store = store
        self.clock = clock
        self.created = 0
        self.destroyed = 0
        self._by_period: dict[int, Key] = {}
        self._by_kid: dict[str, Key] = {}
        self._next_expiry = float("inf")
        now = clock()
        for key in store.load(name) if store else []:
            if key.expires > now:
                # A period's first: the store's key for it. A second (two workers claimed it at once)
                # is the one no other process uses: keyed with it, one client would be two to the
                # window owner's share cap (a restarted worker hashed clients with the key created last).
                self._remember(key, current=key.period not in self._by_period)

    def current(self, t: float) -> Key:
        """The key of the period holding ``t``; made now (or taken from the store) if we have none."""
        period = int(t // self.rotation)
        key = self._by_period.get(period)
        if key is None:
            key = self._new(period)
            if self.store is not None:
                key = self.store.claim(self.name, key)
            key = self.adopt(key)
        return key

    def adopt(self, key: Key) -> Key:
        """Use ``key`` (a store's answer to a claim) for its period; a dead one is replaced by a fresh key."""
        if key.expires <= self.clock():  # the store's key for a long-past period: make a fresh one
            key = self._new(key.period)
        self.created += 1
        self._remember(key)
        return key

    def candidate(self, period: int) -> Key:
        """A new key for ``period``, to claim from a store."""
        return self._new(period)

    def held(self) -> list[Key]:
        """The key ``current`` answers for each period it has one for, with no side effect (the
        compiled core is handed these, and asks ``current`` for any other period)."""
        return list(self._by_period.values())

    def get(self, kid: str) -> Key | None:
        key = self._by_kid.get(kid)
        if key is not None and key.expires <= self.clock():
            self.expire()
            return None
        return key

    def live(self) -> list[Key]:
        self.expire()
        return sorted(self._by_kid.values(), key=lambda k: k.created)

    def expire(self) -> list[str]:
        """Destroy every key whose life is over; returns their ids."""
        now = self.clock()
        if now < self._next_expiry:
            return []
        dead = [k for k in self._by_kid.values() if k.expires <= now]
        for key in dead:
            del self._by_kid[key.kid]
            if self._by_period.get(key.period) is key:
                del self._by_period[key.period]
        self.destroyed += len(dead)
        self._next_expiry = min((k.expires for k in self._by_kid.values()), default=float("inf"))
        if dead and self.store is not None:
            self.store.forget(self.name, dead)
        return [k.kid for k in dead]

    def _new(self, period: int) -> Key:
        now = self.clock()
        current = int(now // self.rotation)
        start = time.strftime("%Y%m%dT%H%M%S", time.gmtime(period * self.rotation))
        return Key(
            kid=f"{self.name}-{start}-{secrets.token_hex(4)}",
            period=period,
            secret=secrets.token_bytes(KEY_BYTES),
            created=now,
            # A key made now for a past period (late or replayed data) lives as if made for this one;
            # for a period beyond the next (a line dated years ahead), as if made for the next one.
            expires=min(max(period, current), current + 1) * self.rotation + self.lifetime,
        )

    def _remember(self, key: Key, current: bool = True) -> None:
        """``current``: the key of its period; else only kept to be looked up, and destroyed in time."""
        if current:
            self._by_period[key.period] = key
        self._by_kid[key.kid] = key
        self._next_expiry = min(self._next_expiry, key.expires)
