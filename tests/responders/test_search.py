"""Opening and filtering raw records for responders, without a broker."""

from __future__ import annotations

import ipaddress
import os
from datetime import UTC, datetime

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from logscrub.crypto import envelope
from logscrub.crypto.keyring import Key
from logscrub.parsing.formats import make_parser
from logscrub.responders import search as s
from logscrub.crypto import subjects

LIVE = Key("data-live", 1, os.urandom(32), 0.0, 1e12)
DEAD_KID = "data-dead"
PARSE = make_parser("combined")


def combined(ip: str, path: str, status: int = 200, agent: str = "curl/8.0", hour: int = 10) -> bytes:
    return f'{ip} - - [29/Nov/2026:{hour:02d}:00:00 +0000] "GET {path} HTTP/1.1" {status} 5 "-" "{agent}"'.encode()


class World:
    """Sealed records and the keys topic state that opens them."""

    def __init__(self) -> None:
        self.wrapped: dict[str, dict[str, bytes]] = {}
        self.erased: dict[tuple[str, str], float] = {}
        self.raws: list[s.Raw] = []

    def add(self, line: bytes, ip: str, reason: str | None = None, key: Key = LIVE) -> str:
        packed = ipaddress.ip_address(ip).packed
        sid = subjects.subject_id(key, packed)
        skid, secret = f"{sid}.{len(self.raws)}", os.urandom(32)
        record = subjects.subject_record(key.kid, skid)
        self.wrapped.setdefault(key.kid, {})[skid] = subjects.wrap(key, record, secret)
        env = envelope.seal(line, key, 1.0, reason, f"0:{len(self.raws)}", (skid, AESGCM(secret)))
        self.raws.append(s.Raw("security.raw", 0, len(self.raws), orjson.dumps(env)))
        return skid

    def keys(self) -> s.Keys:
        return s.Keys(lambda kid: LIVE if kid == LIVE.kid else None, self.wrapped, self.erased)

    def run(self, query: s.Query) -> tuple[list[str], dict[str, int]]:
        found, counts = s.search(self.raws, self.keys(), query, PARSE)
        return [r["line"] for r in found], dict(counts)


def test_every_filter_narrows_and_an_address_is_a_network_of_one():
    w = World()
    lines = [
        combined("198.51.100.7", "/login", 401, "Firefox", hour=9),
        combined("198.51.100.8", "/login", 200, "firefox", hour=10),
        combined("2001:db8::1", "/api/x", 500, "curl", hour=11),
    ]
    for line, ip in zip(lines, ["198.51.100.7", "198.51.100.8", "2001:db8::1"], strict=True):
        w.add(line, ip)
    text = [x.decode() for x in lines]
    net = ipaddress.ip_network
    assert w.run(s.Query())[0] == text
    assert w.run(s.Query(network=net("198.51.100.0/24")))[0] == text[:2]
    assert w.run(s.Query(network=net("198.51.100.8/32")))[0] == [text[1]]
    assert w.run(s.Query(path_prefix="/api"))[0] == [text[2]]
    assert w.run(s.Query(status=401))[0] == [text[0]]
    assert w.run(s.Query(agent_contains="FIREFOX"))[0] == text[:2]
    since = datetime(2026, 11, 29, 10, tzinfo=UTC)
    assert w.run(s.Query(since=since))[0] == text[1:]
    assert w.run(s.Query(until=since))[0] == text[:1]


def test_what_cannot_be_opened_is_counted_by_why_never_shown():
    w = World()
    w.add(combined("198.51.100.7", "/a"), "198.51.100.7")
    gone = w.add(combined("198.51.100.9", "/b"), "198.51.100.9")
    erased = w.add(combined("198.51.100.10", "/c"), "198.51.100.10")
    del w.wrapped[LIVE.kid][gone]  # never reached the keys topic
    del w.wrapped[LIVE.kid][erased]
    w.erased[(LIVE.kid, erased.partition(".")[0])] = 5.0
    dead = Key(DEAD_KID, 0, os.urandom(32), 0.0, 1.0)
    w.add(combined("198.51.100.11", "/d"), "198.51.100.11", key=dead)
    w.raws.append(s.Raw("security.raw", 0, 99, b"not json"))
    found, counts = w.run(s.Query())
    assert len(found) == 1
    assert counts == {"read": 5, "matched": 1, s.MISSING: 1, s.ERASED: 1, s.KEY_GONE: 1, s.DAMAGED: 1}


def test_a_rejected_line_is_found_by_the_address_it_starts_with():
    w = World()
    w.add(b"198.51.100.7 - - [broken", "198.51.100.7", reason="bad_time")
    assert w.run(s.Query(network=ipaddress.ip_network("198.51.100.7/32")))[0] == ["198.51.100.7 - - [broken"]
    assert w.run(s.Query(status=200))[0] == []


def test_erased_periods_name_the_periods_of_that_address_only():
    w = World()
    w.erased[(LIVE.kid, subjects.subject_id(LIVE, b"\x01\x02\x03\x04"))] = 7.0
    assert list(s.erased_periods(w.keys(), [LIVE], b"\x01\x02\x03\x04")) == [(LIVE.kid, 7.0)]
    assert list(s.erased_periods(w.keys(), [LIVE], b"\x01\x02\x03\x05")) == []
