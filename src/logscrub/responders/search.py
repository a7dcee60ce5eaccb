"""Opening and filtering the raw buffer for responders (pure: records in, matches and counts out).

A record is opened with its data key and, when it has one, its subject key; what cannot be opened is
counted by why (the window passed and its key was destroyed, or its subject was erased), never shown.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from logscrub.crypto import envelope
from logscrub.crypto.keyring import Key
from logscrub.parsing.record import ParseError, Request
from logscrub.privacy.ip import client_ip, parse_ip
from logscrub.crypto import subjects

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Why a record was not opened, as counted in a search's summary.
KEY_GONE = "key destroyed (past the security window)"
ERASED = "subject erased"
MISSING = "subject key not in the keys topic (yet)"
DAMAGED = "does not authenticate (damaged or not an envelope)"


@dataclass(frozen=True)
class Query:
    network: Network | None = None  # an address is a /32 or /128
    since: datetime | None = None
    until: datetime | None = None
    path_prefix: str | None = None
    status: int | None = None
    agent_contains: str | None = None

    def describe(self) -> dict[str, Any]:
        """The query for the audit trail, without the address (the caller hashes it)."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "path_prefix": self.path_prefix,
            "status": self.status,
            "agent_contains": self.agent_contains,
        }


@dataclass(frozen=True)
class Raw:
    """One sealed record: from Kafka (its partition and offset), or from a line of ``scrub``'s output
    file for the topic (no partition; ``offset`` is the line number, from 1)."""

    topic: str
    partition: int | None
    offset: int
    value: bytes


@dataclass
class Keys:
    """What opening needs: live data keys by id, and the subject keys and erasure markers (of the keys
    topic, or of a keys file)."""

    data_key: Callable[[str], Key | None]
    subject_keys: dict[str, dict[str, bytes]]  # data kid -> subject key id -> wrapped
    erased: dict[tuple[str, str], float]  # (data kid, subject id) -> when


def search(
    records: Iterable[Raw], keys: Keys, query: Query, parse: Callable[[str], Request], trusted: tuple[Network, ...] = ()
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The matching records, opened, and the counts: read, matched and each reason for not opening."""
    counts: Counter[str] = Counter()
    out = []
    for raw in records:
        counts["read"] += 1
        opened = _open(raw, keys, counts)
        if opened is None:
            continue
        env, line = opened
        found = _fields(env, line, parse, trusted)
        if _matches(query, found):
            counts["matched"] += 1
            out.append({"topic": raw.topic, "partition": raw.partition, "offset": raw.offset, **_public(found)})
    return out, counts


def _open(raw: Raw, keys: Keys, counts: Counter[str]) -> tuple[dict[str, Any], bytes] | None:
    try:
        env = orjson.loads(raw.value)
        kid = env["kid"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        counts[DAMAGED] += 1
        return None
    data_key = keys.data_key(kid)
    if data_key is None:
        counts[KEY_GONE] += 1
        return None
    secret = None
    try:
        skid = envelope.subject_key_id(env, data_key)
    except envelope.EnvelopeError:
        counts[DAMAGED] += 1
        return None
    if skid is not None:
        wrapped = keys.subject_keys.get(kid, {}).get(skid)
        secret = subjects.unwrap(data_key, subjects.subject_record(kid, skid), wrapped) if wrapped else None
        if secret is None:
            if (kid, skid.partition(".")[0]) in keys.erased:
                counts[ERASED] += 1
            else:
                counts[MISSING if wrapped is None else DAMAGED] += 1
            return None
    try:
        return env, envelope.open_sealed(env, data_key, secret)
    except envelope.EnvelopeError:
        counts[DAMAGED] += 1
        return None


def _fields(
    env: dict[str, Any], line: bytes, parse: Callable[[str], Request], trusted: tuple[Network, ...]
) -> dict[str, Any]:
    text = line.decode("utf-8", "replace")
    found: dict[str, Any] = {"src": env.get("src"), "ingested": env.get("ingested"), "reason": env.get("reason")}
    req = None
    if env.get("reason") is None:
        try:
            req = parse(text)
        except ParseError:
            pass
    if req is not None:
        found.update(
            client=client_ip(req.client, req.forwarded_for, trusted),
            time=req.time,
            method=req.method,
            target=req.target,
            status=req.status,
            user_agent=req.user_agent,
        )
    else:  # a rejected line: only the address it starts with, and when it arrived
        found.update(client=parse_ip(text[:64].split(" ", 1)[0]), time=None, method=None, target=None)
        found.update(status=None, user_agent=None)
    found["line"] = text
    return found


def _matches(q: Query, f: dict[str, Any]) -> bool:
    if q.network is not None and (f["client"] is None or f["client"] not in q.network):
        return False
    when = f["time"].timestamp() if f["time"] is not None else f["ingested"]
    if q.since is not None and (when is None or when < q.since.timestamp()):
        return False
    if q.until is not None and (when is None or when >= q.until.timestamp()):
        return False
    if q.path_prefix is not None and not (f["target"] or "").startswith(q.path_prefix):
        return False
    if q.status is not None and f["status"] != q.status:
        return False
    return q.agent_contains is None or q.agent_contains.lower() in (f["user_agent"] or "").lower()


def _public(f: dict[str, Any]) -> dict[str, Any]:
    return {
        **f,
        "client": str(f["client"]) if f["client"] is not None else None,
        "time": f["time"].isoformat() if f["time"] is not None else None,
    }


def erased_periods(keys: Keys, live: Iterable[Key], packed_ip: bytes) -> Iterator[tuple[str, float]]:
    """(data key id, when) for each live period in which this address was erased."""
    for key in live:
        when = keys.erased.get((key.kid, subjects.subject_id(key, packed_ip)))
        if when is not None:
            yield key.kid, when
