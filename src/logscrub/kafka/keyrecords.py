"""The records of the keys topic, and the state they add up to: read the same way by the worker
(aiokafka) and by the responders' commands (kafka-python).

``key/<ring>/<kid>``: a visitor or data key, wrapped with the master key; for each ring and period
the first live one in the topic is *the* key. ``subject/<data kid>/<skid>``: a subject key wrapped
with its data key. ``erased/<data kid>/<subject id>``: an erasure marker. A tombstone destroys.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import orjson

from logscrub.crypto.keyring import Key
from logscrub.crypto.master import MasterKey, WrapError
from logscrub.errors import Refused


class KeyStoreError(Refused):
    """The keys topic cannot be read or written: no line may be sealed under a key others cannot find."""


def key_record(ring: str, kid: str) -> str:
    return f"key/{ring}/{kid}"


def wrapped_key(master: MasterKey, ring: str, key: Key) -> tuple[str, bytes]:
    """(record key, value) that stores ``key`` in the topic, wrapped and bound to its record key."""
    record = key_record(ring, key.kid)
    payload = orjson.dumps(
        {"period": key.period, "secret": base64.b64encode(key.secret).decode(), "created": key.created,
         "expires": key.expires}
    )
    return record, master.wrap(record.encode(), payload)


class KeyTopicState:
    """Everything the keys topic says, as of the last record applied.

    ``keep_subjects``: hold every subject key (search, erasure); a worker only needs to hear of
    destroyed ones (``on_subject_gone``).
    """

    def __init__(self, master: MasterKey, keep_subjects: bool = False) -> None:
        self.master = master
        self.keep_subjects = keep_subjects
        self.on_subject_gone: Callable[[str, str], None] | None = None
        self.keys: dict[str, dict[str, tuple[int, Key]]] = {}  # ring -> kid -> (offset, key)
        self.subjects: dict[str, dict[str, bytes]] = {}  # data kid -> subject key id -> wrapped key
        self.erased: dict[tuple[str, str], float] = {}  # (data kid, subject id) -> when
        self.unreadable = 0  # key records that did not unwrap (another master key?)

    def apply(self, record_key: str, value: bytes | None, offset: int) -> None:
        kind, _, rest = record_key.partition("/")
        if kind == "key":
            ring, _, kid = rest.partition("/")
            if value is None:
                self.keys.get(ring, {}).pop(kid, None)
                return
            try:
                data = orjson.loads(self.master.unwrap(record_key.encode(), value))
            except (WrapError, orjson.JSONDecodeError):
                self.unreadable += 1
                return
            key = Key(kid, int(data["period"]), base64.b64decode(data["secret"]), data["created"], data["expires"])
            self.keys.setdefault(ring, {}).setdefault(kid, (offset, key))
        elif kind == "subject":
            data_kid, _, skid = rest.partition("/")
            if value is None:
                self.subjects.get(data_kid, {}).pop(skid, None)
                if self.on_subject_gone is not None:
                    self.on_subject_gone(data_kid, skid)
            elif self.keep_subjects:
                self.subjects.setdefault(data_kid, {})[skid] = value
        elif kind == "erased" and value is not None:
            data_kid, _, sid = rest.partition("/")
            self.erased[(data_kid, sid)] = float(orjson.loads(value)["at"])

    def live(self, ring: str, now: float) -> list[Key]:
        """In the topic's order: a period's first is its key (``winner``), whoever created theirs first."""
        return [k for _, k in sorted(self.keys.get(ring, {}).values(), key=lambda ok: ok[0]) if k.expires > now]

    def key(self, ring: str, kid: str, now: float) -> Key | None:
        """A live key by id; None once its life is over, whether or not its record is still in the topic."""
        got = self.keys.get(ring, {}).get(kid)
        return got[1] if got is not None and got[1].expires > now else None

    def winner(self, ring: str, candidate: Key) -> Key:
        """The period's key: the first live one in the topic (``candidate`` once it was read back)."""
        rivals = [
            (offset, key)
            for offset, key in self.keys.get(ring, {}).values()
            if key.period == candidate.period and key.expires > candidate.created
        ]
        return min(rivals, key=lambda ok: ok[0])[1] if rivals else candidate

    def forget(self, ring: str, dead: list[Key]) -> None:
        for key in dead:
            self.keys.get(ring, {}).pop(key.kid, None)
            self.subjects.pop(key.kid, None)
