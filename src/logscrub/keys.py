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

KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class Key:
    kid: str
    period: int
    secret: bytes
    created: float
    expires: float


class KeyFile:
    """A JSON file of live keys (mode 0600), rewritten atomically on change.

    Used by the local driver, where keys live beside the output; the Kafka
    worker shares keys through the cluster instead.
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


class KeyRing:
    """Keys by period, created on first use and destroyed when their life ends."""

    def __init__(
        self,
        name: str,
        rotation: int,
        lifetime: int,
        store: KeyFile | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.rotation = rotation
        if lifetime < rotation:
            raise ValueError(f"{name} keys would die before their period ends")
        self.lifetime = lifetime  # seconds a key lives from the start of its period
        self.store = store
        self.clock = clock
        self.destroyed = 0
        self._by_period: dict[int, Key] = {}
        self._by_kid: dict[str, Key] = {}
        now = clock()
        for key in store.load(name) if store else []:
            if key.expires > now:
                self._remember(key)
        self._next_expiry = min((k.expires for k in self._by_kid.values()), default=float("inf"))

    def current(self, t: float) -> Key:
        """The key of the period holding ``t``; made now if it does not exist."""
        period = int(t // self.rotation)
        key = self._by_period.get(period)
        if key is None:
            if self.store is None:
                key = self._create(period)
            else:
                with self.store.locked():
                    key = self._adopt(period) or self._create(period)
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
            with self.store.locked():
                self._save_merged()
        return [k.kid for k in dead]

    def _adopt(self, period: int) -> Key | None:
        """A live key another process sharing the store made for ``period`` meanwhile."""
        now = self.clock()
        for key in self.store.load(self.name) if self.store else []:
            if key.expires > now and key.kid not in self._by_kid:
                self._remember(key)
                self._next_expiry = min(self._next_expiry, key.expires)
        return self._by_period.get(period)

    def _create(self, period: int) -> Key:
        now = self.clock()
        start = time.strftime("%Y%m%dT%H%M%S", time.gmtime(period * self.rotation))
        key = Key(
            kid=f"{self.name}-{start}-{secrets.token_hex(4)}",
            period=period,
            secret=secrets.token_bytes(KEY_BYTES),
            created=now,
            # A key made now for a past period (late or replayed data) lives as if made for this one.
            expires=max(period, int(now // self.rotation)) * self.rotation + self.lifetime,
        )
        self._remember(key)
        self._next_expiry = min(self._next_expiry, key.expires)
        if self.store is not None:
            self._save_merged()  # callers hold the store lock
        return key

    def _remember(self, key: Key) -> None:
        self._by_period[key.period] = key
        self._by_kid[key.kid] = key

    def _save_merged(self) -> None:
        """Write our live keys plus the live keys other processes added; expired ones drop out."""
        assert self.store is not None
        now = self.clock()
        merged = {k.kid: k for k in self.store.load(self.name) if k.expires > now}
        merged.update(self._by_kid)
        self.store.save(self.name, sorted(merged.values(), key=lambda k: k.created))

