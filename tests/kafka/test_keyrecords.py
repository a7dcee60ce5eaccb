"""The keys topic as every worker reads it: one key per period, the same in every process."""

import os

from logscrub.crypto.keyring import Key, KeyRing
from logscrub.crypto.master import MasterKey
from logscrub.kafka.keyrecords import KeyTopicState, wrapped_key

DAY = 86400


class Topic:
    """A keys topic two workers claimed one period's key in at once, as a ``KeyStore`` reads it."""

    def __init__(self, master: MasterKey, keys: list[Key]) -> None:
        self.state = KeyTopicState(master)
        for offset, key in enumerate(keys):
            self.state.apply(*wrapped_key(master, "visitor", key), offset)

    def load(self, ring: str) -> list[Key]:
        return self.state.live(ring, 1_000.0)


def test_a_worker_started_later_takes_the_period_s_key_the_others_use():
    """Two workers claiming a period's key at once both store one; both then use the first in the
    topic (``winner``). A worker started later took the one created last: a client it keyed was
    another client to the window owner's share cap."""
    master = MasterKey(os.urandom(32))
    first = Key("a", 0, os.urandom(32), created=10.0, expires=2 * DAY)
    second = Key("b", 0, os.urandom(32), created=20.0, expires=2 * DAY)
    topic = Topic(master, [first, second])
    assert topic.state.winner("visitor", second) == first
    ring = KeyRing("visitor", DAY, 2 * DAY, topic, clock=lambda: 1_000.0)  # type: ignore[arg-type]
    assert ring.current(1_000.0) == first
    assert {k.kid for k in ring.live()} == {"a", "b"}  # the other is still destroyed in time
