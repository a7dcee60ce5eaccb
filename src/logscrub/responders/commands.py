"""What the security commands do, apart from argument parsing and printing.

Search, export and erasure follow one set of rules wherever the sealed records are: a ``Source``
says where the records, their keys and the audit trail are (the cluster here, ``scrub``'s output
folder and keys file in ``responders.offline``). Each command reads the keys once, and records
itself in the audit trail before returning anything a responder will see.
"""

from __future__ import annotations

import ipaddress
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from kafka.errors import KafkaError

from logscrub.config import Config
from logscrub.crypto import subjects
from logscrub.crypto.keyring import Key
from logscrub.crypto.master import MasterKey
from logscrub.errors import Refused
from logscrub.kafka.keystore import KafkaKeyStore
from logscrub.kafka.produce import send_one
from logscrub.kafka.restrictions import restriction_record
from logscrub.kafka.scan import scan
from logscrub.privacy.ip import networks
from logscrub.responders import audit
from logscrub.responders.search import Keys, Query, Raw, erased_periods, search
from logscrub.scrub import build

RINGS = ("data", "visitor")
Doomed = Mapping[tuple[str, str], list[str]]  # (data kid, subject id) -> the subject's key ids in that period


class KeyAccess(Protocol):
    """A key store as the responders' commands use it (the keys topic, or a keys file)."""

    def opening(self) -> Keys:
        """What opening a record needs: live data keys, subject keys, erasure markers."""
        ...

    def live_data(self) -> list[Key]:
        """The live data keys: one per period still inside the window."""
        ...

    def destroy(self, doomed: Doomed, at: float) -> None:
        """Destroy these subject keys and file an erasure marker for each subject and period."""
        ...


@dataclass(frozen=True)
class Source:
    """Where a command finds sealed records, the keys that open them, and where it is audited."""

    records: Callable[[], Iterable[Raw]]  # security.raw, then logs.rejected
    keys: Callable[[], AbstractContextManager[KeyAccess]]
    audit: Callable[[str, dict[str, Any]], dict[str, Any]]  # (command, details) -> the stored record


@dataclass
class Found:
    records: list[dict[str, Any]]
    counts: Counter[str]
    erased: list[tuple[str, float]]  # (data key id, when) of periods where the queried address was erased


def find(
    cfg: Config, source: Source, master: MasterKey, query: Query, command: str, subject: bytes | None = None
) -> Found:
    """Open and filter the source's records; audited as ``command``. ``subject``: the packed address
    whose erasures to report."""
    raws = list(source.records())
    # The keys are read after the records, so every subject key a record needs was stored by then.
    with source.keys() as keys:
        opening = keys.opening()
        records, counts = search(raws, opening, query, build.parser(cfg.input), networks(cfg.ip.trusted_proxies))
        erased = list(erased_periods(opening, keys.live_data(), subject)) if subject is not None else []
    described = query.describe()
    if query.network is not None:
        described["network"] = _hashed_network(master, query.network)
    source.audit(command, {"query": described, "counts": dict(counts), "erased_periods": len(erased)})
    return Found(records, counts, erased)


def erase(source: Source, master: MasterKey, packed_ip: bytes) -> dict[str, Any]:
    """Destroy the subject keys of this address in every live period, and file an erasure marker."""
    with source.keys() as keys:
        doomed = subject_keys_of(keys.opening().subject_keys, keys.live_data(), packed_ip)
        keys.destroy(doomed, round(time.time(), 3))
    result = {
        "subject": master.subject_hash(packed_ip),
        "keys_destroyed": sum(map(len, doomed.values())),
        "periods": len(doomed),
    }
    source.audit("subject erase", result)
    return result


def subject_keys_of(
    held: Mapping[str, Mapping[str, bytes]], live: Iterable[Key], packed_ip: bytes
) -> dict[tuple[str, str], list[str]]:
    """(data kid, subject id) -> this address's subject key ids, for each live period that has any.

    A subject key id starts with the subject id, a hash of the address keyed with its period's data
    key: only the live data keys can name an address's keys, and only within their own period.
    """
    doomed = {}
    for key in live:
        sid = subjects.subject_id(key, packed_ip)
        mine = [skid for skid in held.get(key.kid, {}) if skid.partition(".")[0] == sid]
        if mine:
            doomed[(key.kid, sid)] = mine
    return doomed


# -- on Kafka -----------------------------------------------------------------------------------


def kafka_source(cfg: Config, master: MasterKey) -> Source:
    """The security topics, the keys topic and the audit topic of ``cfg``."""

    def records() -> Iterator[Raw]:
        for topic in (cfg.topics.security.name, cfg.topics.rejected.name):
            for r in scan(cfg.kafka, topic):
                if r.value is not None:
                    yield Raw(r.topic, r.partition, r.offset, r.value)

    @contextmanager
    def keys() -> Iterator[KeyAccess]:
        with _store(cfg, master) as store:
            yield _TopicKeys(store)

    return Source(
        records, keys, lambda command, details: audit.record(cfg.kafka, cfg.topics.audit.name, command, details)
    )


class _TopicKeys:
    def __init__(self, store: KafkaKeyStore) -> None:
        self.store = store

    def opening(self) -> Keys:
        return Keys(lambda kid: self.store.key("data", kid), self.store.subjects, self.store.erased)

    def live_data(self) -> list[Key]:
        return self.store.live("data")

    def destroy(self, doomed: Doomed, at: float) -> None:
        for (data_kid, sid), skids in doomed.items():
            for skid in skids:
                self.store.tombstone(subjects.subject_record(data_kid, skid))
            self.store.publish(subjects.erased_record(data_kid, sid), orjson.dumps({"at": at}))
        self.store.flush()


def _store(cfg: Config, master: MasterKey) -> KafkaKeyStore:
    store = KafkaKeyStore(cfg.kafka, cfg.topics.keys.name, master, keep_subjects=True)
    store.catch_up()
    return store


def keys_status(cfg: Config, master: MasterKey) -> dict[str, Any]:
    """Live keys (ids and lifetimes, never material) and what the keys topic holds besides."""
    with _store(cfg, master) as store:
        rings = {ring: store.live(ring) for ring in RINGS}
        return {
            "keys": [
                {
                    "ring": ring,
                    "kid": k.kid,
                    "created": k.created,
                    "expires": k.expires,
                    "subject_keys": len(store.subjects.get(k.kid, {})) if ring == "data" else None,
                }
                for ring, keys in rings.items()
                for k in keys
            ],
            "erasures": len(store.erased),
            "unreadable": store.unreadable,
        }


def restrict(cfg: Config, master: MasterKey, packed_ip: bytes, lift: bool) -> dict[str, Any]:
    """Record (or lift) a restriction: workers then keep this address out of analytics."""
    subject, value = restriction_record(master, packed_ip, lift)
    topic = cfg.topics.restrictions.name
    try:
        send_one(cfg.kafka, topic, subject.encode(), value, "restrict")
    except KafkaError as e:
        raise Refused(f"topic {topic}: restriction not stored ({type(e).__name__})") from None
    result = {"subject": subject, "restricted": not lift}
    audit.record(cfg.kafka, cfg.topics.audit.name, "subject restrict", result)
    return result


def _hashed_network(master: MasterKey, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    if network.prefixlen == network.max_prefixlen:
        return master.subject_hash(network.network_address.packed)
    return master.subject_hash(network.network_address.packed + bytes([network.prefixlen])) + f"/{network.prefixlen}"
