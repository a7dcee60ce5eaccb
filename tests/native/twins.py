"""Both cores over the same lines with the same keys, nonces and subject-key randomness, as the
drivers run them (batches of lines into a ``Routed``, windows closed between batches), for the
differential tests: every output a driver writes, before the shuffle, side by side."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from logscrub.config import Config, load
from logscrub.crypto import envelope, subjects
from logscrub.crypto.keyring import KeyRing
from logscrub.scrub import build
from logscrub.scrub.routing import Routed

NOW = 1e9  # ingestion time: data-key period and the envelopes' "ingested"


class Stream:
    """Deterministic bytes, drawn in order: the same draws give the same bytes to either core."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.n = 0
        self.buffer = b""

    def __call__(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self.buffer += hashlib.blake2b(self.n.to_bytes(8, "big"), key=self.seed).digest()
            self.n += 1
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out


@dataclass
class Outputs:
    """What a driver writes, by output: the held events as the partials for their window owners
    (each slot's in line order, before the shuffle), serialized."""

    records: dict[str, list[bytes]] = field(default_factory=lambda: {"security": [], "rejected": []})
    held: list[bytes] = field(default_factory=list)
    traffic: list[bytes] = field(default_factory=list)
    partials: list[bytes] = field(default_factory=list)  # the raw loop's partial sums, batch by batch
    counts: dict[str, Any] = field(default_factory=dict)
    sightings: list[bytes] = field(default_factory=list)
    subject_records: list[tuple[str, bytes]] = field(default_factory=list)


@contextmanager
def reference_randomness(monkeypatch: pytest.MonkeyPatch, nonces: Sequence[bytes], stream: Stream) -> Iterator[None]:
    """The reference's nonces and subject keys drawn from ``nonces`` and ``stream``, in the order
    the compiled core draws them (each new subject key: 4 bytes of id, 32 of secret, 12 of nonce)."""
    monkeypatch.setattr(envelope, "_nonces", __import__("collections").deque(nonces))

    class _Secrets:
        @staticmethod
        def token_hex(n: int) -> str:
            return stream(n).hex()

    class _Os:
        urandom = staticmethod(stream)
        getpid = staticmethod(os.getpid)

    with monkeypatch.context() as m:
        m.setattr(subjects, "secrets", _Secrets)
        m.setattr(subjects, "os", _Os)
        m.setattr(subjects.SubjectKeys, "_secret", lambda self: stream(subjects.SUBJECT_KEY_BYTES))
        yield


def nonces_for(n: int, seed: bytes = b"nonces") -> list[bytes]:
    return [hashlib.blake2b(i.to_bytes(8, "big"), key=seed, digest_size=12).digest() for i in range(n)]


def config(**env: str) -> Config:
    return load(None, env={"LOGSCRUB_INPUT__FORMAT": env.pop("fmt", "auto"), **env})


def run(
    use_native: bool,
    cfg: Config,
    lines: Sequence[bytes],
    rings: tuple[KeyRing, KeyRing],
    monkeypatch: pytest.MonkeyPatch,
    *,
    batch: int = 4096,
    sources: Callable[[int], str] | None = str,
    worker: bool = False,
    restricted: Callable[[bytes], bool] | None = None,
    fmt: str | None = None,
) -> Outputs:
    """``lines`` through one core as ``scrub`` runs them (``worker``: as the raw loop does, partial
    sums drained each batch and sightings taken); ``rings`` shared by both cores' runs, so both
    seal and hash under the same keys."""
    visitor, data = rings
    core = build.core(cfg, fmt or cfg.input.format, visitor, data, subjects=True, restricted=restricted,
                      vocabulary=build.vocabulary(cfg.aggregate, use_native), use_native=use_native)
    owner = build.window_owner(cfg.aggregate, cfg.events.time_granularity)
    aggregator = build.aggregator(cfg.aggregate) if worker else owner.base
    routed = Routed(aggregator, newline=not worker)
    out = Outputs()
    nonces = nonces_for(len(lines))
    stream = Stream(b"subjects")
    with reference_randomness(monkeypatch, [] if use_native else nonces, stream):
        for start in range(0, len(lines), batch):
            chunk = list(lines[start : start + batch])
            srcs = None if sources is None else [sources(start + i) for i in range(len(chunk))]
            if use_native:
                done = core.run(chunk, NOW, srcs, routed, nonces=b"".join(nonces[start : start + len(chunk)]),
                                subject_random=stream)
            else:
                done = core.run(chunk, NOW, srcs, routed)
            assert done.need is None and done.lines == len(chunk)
            records, held = routed.take()
            for role, values in records.items():
                out.records[role] += values
            out.held += [orjson.dumps(p) for p in held]
            out.subject_records += core.subjects.take_pending()
            if worker:
                out.sightings += [orjson.dumps(s) for s in core.vocabulary.take_sightings()]
                out.partials += [orjson.dumps(p, option=orjson.OPT_SORT_KEYS) for p in _sorted_partials(
                    aggregator.drain_partials({"0": routed.latest}))]
            else:
                out.traffic += [orjson.dumps(r) for r in owner.settle(owner.due(), NOW).records]
        if not worker:
            out.traffic += [orjson.dumps(r) for r in owner.finish(NOW).records]
    out.counts = {"lines": routed.lines, "events": routed.events, "withheld": routed.withheld,
                  "restricted": routed.restricted, "rejected": list(routed.rejected.items()),
                  "late": aggregator.late, "suppressed": sum(level.suppressed for level in owner.levels)}
    return out


def _sorted_partials(partials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Partials with each bucket's sets as sorted lists: a set's listing order is Python's, not data."""
    for p in partials:
        for b in p["buckets"]:
            b[6] = sorted(b[6])  # clients
            if b[7] is not None:
                b[7] = sorted(b[7])  # visitors while exact
    return partials


def both(cfg: Config, lines: Sequence[bytes], monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Outputs, Outputs]:
    """(reference, compiled) outputs of ``lines`` under the same keys."""
    rings = build.key_rings(cfg, None)
    reference = run(False, cfg, lines, rings, monkeypatch, **kw)
    compiled = run(True, cfg, lines, rings, monkeypatch, **kw)
    return reference, compiled
