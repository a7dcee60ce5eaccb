"""What today's events may publish (invariant 2): values k distinct clients have shown, in groups
that never hold two events of one client alone.

A value stays unpublishable until k clients showed it (``shown``). And an event joins the group of
events publishing the same description only if the group is empty, or already holds another
client (``joins``), that day: a group holding only one client's events holds at most one of them,
so no group can follow a person. Within the event's time slot the window owner applies the rule
(``slots.Groups``). Values, groups and clients are 64-bit hashes keyed with the day's visitor key,
so what workers share (``take_sightings`` / ``merge``) means nothing once that key is destroyed,
and days cannot be joined. Memory is bounded: past ``max_values`` a day, new values are
not counted and so never published that day (the safe side).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Hashable, Iterable

import orjson

DAYS_KEPT = 3  # a day's counts, kept while late lines of it may still arrive
MAX_VALUES = 2_000_000


class DayVocabulary:
    """One visitor-key period's counts."""

    __slots__ = ("k", "max_values", "published", "counting", "sightings", "alone", "shared", "joined", "seeded",
                 "_hashes", "_secret")

    def __init__(self, k: int, secret: bytes | None, max_values: int = MAX_VALUES) -> None:
        self.k = k
        self.max_values = max_values
        self.published: set[int] = set()
        self.counting: dict[int, set[int]] = {}
        self.sightings: list[int] = []  # (value, client) pairs, flattened, not yet shared
        self.alone: dict[int, int] = {}  # group -> the one client it holds
        self.shared: set[int] = set()  # groups holding two clients or more
        self.joined: list[int] = []  # (group, client) pairs, flattened, not yet shared
        self.seeded = False  # started from the day before's published values
        self._hashes: dict[Hashable, int] = {}
        self._secret = secret  # None for a day known only from other workers' sightings

    def value(self, value: Hashable) -> int:
        """The keyed hash standing for ``value`` today (cached: values repeat)."""
        h = self._hashes.get(value)
        if h is None:
            if self._secret is None:
                raise RuntimeError("a day's vocabulary needs its key to hash values")
            if len(self._hashes) >= self.max_values:
                self._hashes.clear()
            digest = hashlib.blake2b(orjson.dumps(value), key=self._secret, digest_size=8).digest()
            h = self._hashes[value] = int.from_bytes(digest) >> 1
        return h

    def shown(self, h: int, client: int) -> bool:
        """``client`` showed value ``h``: whether ``h`` may be published now."""
        if h in self.published:
            return True
        clients = self.counting.get(h)
        if clients is None:
            if len(self.counting) >= self.max_values:
                return False
            clients = self.counting[h] = set()
        if client not in clients:
            clients.add(client)
            self.sightings += (h, client)
            if len(clients) >= self.k:
                del self.counting[h]
                self.published.add(h)
                return True
        return False

    def joins(self, group: int, client: int) -> bool:
        """Whether an event of ``client`` may be published in ``group`` today (and if so, it is)."""
        if group in self.shared:
            return True
        alone = self.alone.get(group)
        if alone is None:
            if len(self.alone) >= self.max_values:
                return False
            self.alone[group] = client
        elif alone == client:
            return False  # its second event there, with nobody else's: that group would follow it
        else:
            del self.alone[group]
            self.shared.add(group)
        self.joined += (group, client)
        return True

    def published_values(self) -> list[Hashable]:
        """The values (as given to ``value``) this process knows were published: the next day may
        start from them."""
        return [v for v, h in self._hashes.items() if h in self.published]

    def seed(self, values: Iterable[Hashable]) -> None:
        """Publish these from the start: k clients showed each of them the day before."""
        for v in values:
            h = self.value(v)
            self.counting.pop(h, None)
            self.published.add(h)
        self.seeded = True

    def merge_joined(self, flat: Iterable[int]) -> None:
        """Another worker's group joins, (group, client) pairs flattened."""
        it = iter(flat)
        for group, client in zip(it, it, strict=True):
            if group in self.shared:
                continue
            alone = self.alone.get(group)
            if alone is None:
                if len(self.alone) < self.max_values:
                    self.alone[group] = client
            elif alone != client:
                del self.alone[group]
                self.shared.add(group)

    def merge(self, flat: Iterable[int]) -> None:
        """Another worker's sightings, (value, client) pairs flattened."""
        it = iter(flat)
        for h, client in zip(it, it, strict=True):
            if h in self.published:
                continue
            clients = self.counting.get(h)
            if clients is None:
                if len(self.counting) >= self.max_values:
                    continue
                clients = self.counting[h] = set()
            clients.add(client)
            if len(clients) >= self.k:
                del self.counting[h]
                self.published.add(h)


class Vocabulary:
    """The counts of the last few days, by visitor key id."""

    def __init__(self, k: int, max_values: int = MAX_VALUES) -> None:
        self.k = k
        self.max_values = max_values
        self._days: OrderedDict[str, DayVocabulary] = OrderedDict()

    def day(self, kid: str, secret: bytes | None = None) -> DayVocabulary:
        """The day of visitor key ``kid``; ``secret`` when this process uses that key (it hashes).

        The days kept are those used last (files read newest first, rotated logs, late lines), never
        the one asked for; a day heard of only from other workers is not kept if it is older than
        every day kept (its records are then dropped: ``merge``)."""
        day = self._days.get(kid)
        if day is None:
            if secret is None and len(self._days) >= DAYS_KEPT and _period_of(kid) < min(map(_period_of, self._days)):
                return DayVocabulary(self.k, None, self.max_values)  # too old to keep: not stored
            day = self._days[kid] = DayVocabulary(self.k, secret, self.max_values)
            while len(self._days) > DAYS_KEPT:
                del self._days[next(d for d in self._days if d != kid)]  # the least recently used
        else:
            if secret is not None and day._secret is None:
                day._secret = secret
            if secret is not None:
                self._days.move_to_end(kid)
        return day

    def take_sightings(self) -> list[dict[str, object]]:
        """What this process counted since the last call, by day, for the other workers: one record
        per day, ``{"kid", "s": value sightings, "g": group joins}`` (pairs flattened)."""
        out: list[dict[str, object]] = []
        for kid, day in self._days.items():
            if day.sightings or day.joined:
                out.append({"kid": kid, "s": day.sightings, "g": day.joined})
                day.sightings, day.joined = [], []
        return out

    def merge(self, record: dict[str, object]) -> None:
        """A record of ``take_sightings``, from any worker (this one's own are merged harmlessly)."""
        kid = str(record["kid"])
        day = self.day(kid)
        if kid in self._days:  # not a day older than every day kept
            day.merge(record.get("s") or ())  # type: ignore[arg-type]
            day.merge_joined(record.get("g") or ())  # type: ignore[arg-type]


def _period_of(kid: str) -> str:
    """``visitor-20261128T000000-ab12cd34`` -> ``20261128T000000``: key ids sort by period this way."""
    return kid.split("-")[1] if kid.count("-") >= 2 else kid
