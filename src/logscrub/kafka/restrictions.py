"""Subjects who asked to be kept out of analytics (``logscrub subject restrict``).

The restrictions topic holds, per subject, a hash keyed with the master key (never the address):
it outlives the security window, so it may not hold the address itself. Workers follow it and seal
a restricted client's lines without publishing anything derived from them.
"""

from __future__ import annotations

import time

import orjson

from logscrub.crypto.master import MasterKey


def restriction_record(master: MasterKey, packed_ip: bytes, lift: bool = False) -> tuple[str, bytes | None]:
    """(record key, value) that restricts this address, or lifts its restriction (a tombstone)."""
    return master.subject_hash(packed_ip), None if lift else orjson.dumps({"at": round(time.time(), 3)})


class Restrictions:
    """Callable on a packed address: whether its client is restricted. Cheap while nobody is.

    ``apply`` takes the topic's records in order (a follower feeds them).
    """

    def __init__(self, master: MasterKey) -> None:
        self.master = master
        self._hashes: set[str] = set()

    def apply(self, record_key: str, value: bytes | None, _partition: int = 0, _offset: int = 0) -> None:
        if value is None:
            self._hashes.discard(record_key)
        else:
            self._hashes.add(record_key)

    def __call__(self, packed_ip: bytes) -> bool:
        return bool(self._hashes) and self.master.subject_hash(packed_ip) in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)
