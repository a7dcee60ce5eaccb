"""The compiled per-line loop (``logscrub._native.Core``) behind the reference scrubber's interface.

``Scrubber.process`` is the reference. ``NativeCore.run`` does the same to a batch of lines in Rust
and hands ``Routed`` the records, counts and per-bucket sums it would have made of their outcomes;
``tests/native`` holds the two to byte-identical output. What stays in Python is the reference's
own code, called back on a cache miss only: user agents, sites, referrers (Public Suffix List),
GeoIP, restrictions, and paths whose text the compiled templater leaves to the reference.

Keys stay with the drivers' key rings: the core is handed the keys a ring holds, and stops at a
line needing another, so that the ring makes it (or raises ``KeyNeeded`` for the worker to claim it)
before the rest of the lines go.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import astuple
from typing import Any

import orjson

from logscrub import native
from logscrub.config import Config
from logscrub.crypto.keyring import KeyNeeded
from logscrub.parsing.nginx_format import read_log_format
from logscrub.privacy.referrer import registrable_domain
from logscrub.scrub.aggregate import AggUpdate
from logscrub.scrub.scrubber import PATH_LENGTH, PATH_SEGMENTS, Done, Outcome, Routes, Scrubber


class NativeSubjects:
    """``SubjectKeys``' interface to the subject keys the compiled core makes and holds."""

    def __init__(self, core: Any) -> None:
        self._core = core

    @property
    def created(self) -> int:
        return int(self._core.subjects_created)

    def take_pending(self) -> list[tuple[str, bytes]]:
        """The records of the keys made since the last call (to store before acknowledging their lines)."""
        return list(self._core.take_subject_records())

    def drop(self, data_kid: str, skid: str) -> None:
        """An erasure destroyed this key: the subject's next line gets a new one."""
        self._core.drop_subject(data_kid, skid)


def vocabulary(k: int) -> Any:
    """The day's counts as the compiled core keeps them (``Vocabulary``'s interface: ``merge``,
    ``take_sightings``)."""
    return native.module().Vocabulary(k)


class NativeCore:
    """``Scrubber``'s work on batches of lines, in Rust; ``process`` (one line, for tests) gives
    the reference's ``Outcome``."""

    name = "native"

    def __init__(self, cfg: Config, fmt: str, reference: Scrubber, subjects: bool = False, vocabulary: Any = None) -> None:
        """``reference``: the reference core for the same config, without subject keys, whose parts
        answer what stays in Python (its key rings, GeoIP and ``restricted`` are this core's too);
        ``subjects``: seal each line under its client's subject key (the compiled core makes and
        holds them: ``self.subjects``); ``vocabulary``: a compiled ``Vocabulary`` (``vocabulary(k)``).
        ``reference.restricted`` may have a ``changes`` count that grows whenever its answers
        change; without one it is asked again every batch."""
        self.reference = reference
        self.visitor_keys = reference.visitor_keys
        self.data_keys = reference.data_keys
        self.max_line = reference.max_line
        self.restricted = reference.restricted
        self.vocabulary = vocabulary if vocabulary is not None else native.module().Vocabulary(cfg.aggregate.k)
        self._changes: int | None = None
        inp = cfg.input
        template, escape = (
            read_log_format(inp.nginx_log_format) if fmt == "nginx" and inp.nginx_log_format else (None, "default")
        )
        uas, geo = reference.uas, reference.geo
        self._core = native.module().Core(
            format=fmt,
            nginx_template=template,
            nginx_escape=escape,
            json_fields=list((inp.json_fields or {}).items()),
            max_line=self.max_line,
            trusted=native.trusted_networks(reference.trusted),
            client_mode=cfg.events.client,
            ipv4_prefix=cfg.ip.ipv4_prefix,
            ipv6_prefix=cfg.ip.ipv6_prefix,
            granularity=int(cfg.events.time_granularity),
            window=int(cfg.aggregate.window),
            visitor_rotation=int(self.visitor_keys.rotation),
            dimensions=list(cfg.aggregate.dimensions),
            k=cfg.aggregate.k,
            path_rules=list(cfg.url.path_rules),
            query_allow=list(cfg.url.query_allow),
            max_segments=PATH_SEGMENTS,
            max_length=PATH_LENGTH,
            vocabulary=self.vocabulary,
            subjects=subjects,
            user_agent=lambda text: astuple(uas(text)),
            site=reference.site,
            referrer=reference.referrers,
            geo=None if geo is None else lambda packed: astuple(geo.lookup(ipaddress.ip_address(packed))),
            restricted=self.restricted,
            registrable_domain=registrable_domain,
            path=reference.paths,
        )
        self.subjects = NativeSubjects(self._core) if subjects else None

    def run(
        self,
        lines: Sequence[bytes],
        now: float,
        sources: Sequence[str] | None,
        routed: Routes,
        *,
        nonces: bytes | None = None,
        subject_random: Callable[[int], bytes] | None = None,
    ) -> Done:
        """Lines into ``routed`` until the end, or until one needs a key the ring's store must be
        asked for (``Done.need``; the caller claims it and calls again with the lines left).
        ``nonces`` (12 bytes a line) and ``subject_random(n)`` replace the OS's randomness in tests."""
        done = 0
        while done < len(lines):
            try:
                key = self.data_keys.current(now)
            except KeyNeeded as need:
                return Done(done, need)
            batch = self._batch(lines[done:], now, key, None if sources is None else sources[done:],
                                routed.newline, None if nonces is None else nonces[12 * done:], subject_random)
            routed.add_batch(batch)
            done += batch.done
            if batch.need is not None:
                try:
                    self.visitor_keys.current(batch.need)  # the next round hands the core this key
                except KeyNeeded as need:
                    return Done(done, need)
        return Done(done, None)

    def process(
        self, line: bytes, now: float, source: str | None = None, *, nonce: bytes | None = None,
        subject_random: Callable[[int], bytes] | None = None,
    ) -> Outcome:
        """One line's ``Outcome``, as the reference's ``process`` gives it (a slow path: tests)."""
        while True:
            key = self.data_keys.current(now)
            b = self._batch([line], now, key, None if source is None else [source], False, nonce, subject_random,
                            detail=True)
            if b.need is None:
                break
            self.visitor_keys.current(b.need)
        kind, update = b.kinds[0], b.updates[0]
        m = native.module()
        if kind == m.REJECTED:
            return Outcome(None, None, orjson.loads(b.rejected[0]), b.line_reasons[0])
        sealed = orjson.loads(b.sealed[0])
        if kind == m.RESTRICTED:
            return Outcome(None, None, sealed, None, True)
        if kind == m.WITHHELD:
            return Outcome(None, None, sealed, withheld=True)
        stamp, (site, window, visitor, client, nbytes, status_class, dims) = update
        agg = AggUpdate(site, window, visitor, client, nbytes, status_class, tuple(dims))
        ((_, _, (event,), _),) = b.held
        return Outcome(orjson.loads(event), agg, sealed, timestamp_ms=stamp)

    def _batch(
        self, lines: Sequence[bytes], now: float, key: Any, sources: Sequence[str] | None, newline: bool,
        nonces: bytes | None, subject_random: Callable[[int], bytes] | None, detail: bool = False,
    ) -> Any:
        changes = getattr(self.restricted, "changes", None)
        changed = changes is None or changes != self._changes
        self._changes = changes
        return self._core.process(
            lines if isinstance(lines, list) else list(lines), now, key.kid, key.secret,
            [(k.period, k.kid, k.secret) for k in self.visitor_keys.held()],
            sources=None if sources is None else list(sources), restrictions_changed=changed, newline=newline,
            nonces=nonces, subject_random=subject_random, detail=detail,
        )
