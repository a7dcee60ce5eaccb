"""Rotating secrets with a hard end.

A key belongs to a period (``floor(t / rotation)``). Once a key's life is over
it is deleted from memory and from its store, and nothing derived from it can
be linked or decrypted again. Two rings use this:

* visitor keys (analytics side): period from the event time, daily by default;
  a key lives one rotation plus a grace for late lines, so visitor hashes of
  different days can never be joined.
* data keys (security side): period from the ingestion time, hourly by
  default; a key lives exactly the security window from its period's start, so
  no raw record sealed under it is readable past the window, wherever a copy
  lies.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class Key:
    kid: str
    period: int
    secret: bytes
    created: float
    expires: float


class KeyStore(Protocol):
    """Where a ring's keys are shared between processes; every process must use the same key per period."""

    def load(self, ring: str) -> list[Key]:
        """The live keys the store holds for ``ring``."""
        ...

    def claim(self, ring: str, candidate: Key) -> Key:
        """The store's key for ``candidate.period``: ``candidate`` itself unless another process was first."""
        ...

    def forget(self, ring: str, dead: list[Key]) -> None:
        """Destroy the store's copies of keys whose life is over."""
        ...


class KeyFile:
    """A JSON file of live keys (mode 0600), rewritten atomically on change.

    Used by the local driver, where keys live beside the output; the Kafka
    worker shares keys through the cluster instead (``kafka.keystore``).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialize key creation between processes sharing the file (several workers on one host)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def load(self, ring: str) -> list[Key]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        return [
            Key(k["kid"], int(k["period"]), base64.b64decode(k["secret"]), float(k["created"]), float(k["expires"]))
            for k in data.get(ring, [])
        ]

    def save(self, ring: str, keys: list[Key]) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        data[ring] = [
            {"kid": k.kid, "period": k.period, "secret": base64.b64encode(k.secret).decode(), "created": k.created, "expires": k.expires}
            for k in keys
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def claim(self, ring: str, candidate: Key) -> Key:
        with self.locked():
            live = [k for k in self.load(ring) if k.expires > candidate.created]
            for key in live:
                if key.period == candidate.period:
                    return key
            self.save(ring, live + [candidate])
            return candidate

    def forget(self, ring: str, dead: list[Key]) -> None:
        gone = {k.kid for k in dead}
        dead_by = max((k.expires for k in dead), default=0.0)  # anything expiring by then is dead too
        with self.locked():
            self.save(ring, [k for k in self.load(ring) if k.kid not in gone and k.expires > dead_by])


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
                self._remember(key)

    def current(self, t: float) -> Key:
        """The key of the period holding ``t``; made now (or taken from the store) if we have none."""
        period = int(t // self.rotation)
        key = self._by_period.get(period)
        if key is None:
            key = self._new(period)
            if self.store is not None:
                key = self.store.claim(self.name, key)
            if key.expires <= self.clock():  # the store's key for a long-past period: make a fresh one
                key = self._new(period)
            self.created += 1
            self._remember(key)
        return key

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
        start = time.strftime("%Y%m%dT%H%M%S", time.gmtime(period * self.rotation))
        return Key(
            kid=f"{self.name}-{start}-{secrets.token_hex(4)}",
            period=period,
            secret=secrets.token_bytes(KEY_BYTES),
            created=now,
            # A key made now for a past period (late or replayed data) lives as if made for this one.
            expires=max(period, int(now // self.rotation)) * self.rotation + self.lifetime,
        )

    def _remember(self, key: Key) -> None:
        self._by_period[key.period] = key
        self._by_kid[key.kid] = key
        self._next_expiry = min(self._next_expiry, key.expires)
