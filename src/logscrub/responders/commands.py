"""What the security commands do, apart from argument parsing and printing.

Each reads the keys topic once (``KafkaKeyStore.catch_up``), works on the security topics, and
records itself in the audit trail before returning anything a responder will see.
"""

from __future__ import annotations

import ipaddress
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

from kafka.errors import KafkaError

from logscrub.config import Config
from logscrub.errors import Refused
from logscrub.kafka.keystore import KafkaKeyStore
from logscrub.kafka.produce import send_one
from logscrub.kafka.restrictions import restriction_record
from logscrub.kafka.scan import scan
from logscrub.privacy.ip import networks
from logscrub.scrub import build
from logscrub.crypto import subjects
from logscrub.responders import audit
from logscrub.crypto.master import MasterKey
from logscrub.responders.search import Keys, Query, Raw, erased_periods, search

RINGS = ("data", "visitor")


@dataclass
class Found:
    records: list[dict[str, Any]]
    counts: Counter[str]
    erased: list[tuple[str, float]]  # (data key id, when) of periods where the queried address was erased


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


def find(cfg: Config, master: MasterKey, query: Query, command: str, subject: bytes | None = None) -> Found:
    """Search security.raw and logs.rejected; audited as ``command``."""
    raws = [
        Raw(r.topic, r.partition, r.offset, r.value)
        for topic in (cfg.topics.security.name, cfg.topics.rejected.name)
        for r in scan(cfg.kafka, topic)
        if r.value is not None
    ]
    # The keys are read after the records, so every subject key a record needs was written by then.
    with _store(cfg, master) as store:
        keys = Keys(lambda kid: store.key("data", kid), store.subjects, store.erased)
        records, counts = search(raws, keys, query, build.parser(cfg.input), networks(cfg.ip.trusted_proxies))
        erased = list(erased_periods(keys, store.live("data"), subject)) if subject is not None else []
    described = query.describe()
    if query.network is not None:
        described["network"] = _hashed_network(master, query.network)
    audit.record(cfg.kafka, cfg.topics.audit.name, command, {"query": described, "counts": dict(counts), "erased_periods": len(erased)})
    return Found(records, counts, erased)


def erase(cfg: Config, master: MasterKey, packed_ip: bytes) -> dict[str, Any]:
    """Destroy the subject keys of this address in every live period, and file an erasure marker."""
    destroyed = periods = 0
    with _store(cfg, master) as store:
        now = round(time.time(), 3)
        for key in store.live("data"):
            sid = subjects.subject_id(key, packed_ip)
            mine = [skid for skid in store.subjects.get(key.kid, {}) if skid.partition(".")[0] == sid]
            for skid in mine:
                store.tombstone(subjects.subject_record(key.kid, skid))
            if mine:
                store.publish(subjects.erased_record(key.kid, sid), orjson.dumps({"at": now}))
            destroyed += len(mine)
            periods += bool(mine)
        store.flush()
    result = {"subject": master.subject_hash(packed_ip), "keys_destroyed": destroyed, "periods": periods}
    audit.record(cfg.kafka, cfg.topics.audit.name, "subject erase", result)
    return result


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
