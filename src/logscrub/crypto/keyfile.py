"""Keys in a local JSON file (mode 0600), for the drivers that run without a broker."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from logscrub.crypto.keyring import Key


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
