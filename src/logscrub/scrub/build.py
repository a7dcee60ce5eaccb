"""Config to the core's parts: the parser, key rings, GeoIP, the per-line core, the aggregator. Every driver wires here."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from logscrub import native
from logscrub.config import AggregateConfig, Config, InputConfig
from logscrub.crypto.keyring import VISITOR_KEY_GRACE, KeyRing, KeyStore
from logscrub.crypto.subjects import SubjectKeys
from logscrub.parsing.formats import Parser, make_parser
from logscrub.privacy.geo import GeoLookup
from logscrub.scrub import native_core
from logscrub.scrub.aggregate import TrafficAggregator
from logscrub.scrub.native_core import NativeCore
from logscrub.scrub.scrubber import Scrubber
from logscrub.scrub.vocabulary import Vocabulary
from logscrub.scrub.windows import WindowOwner

Core = Scrubber | NativeCore  # the per-line core a driver runs: the reference, or its compiled twin


def parser(cfg: InputConfig, fmt: str | None = None) -> Parser:
    """The parser of ``fmt`` (default: ``input.format``) with the input's nginx and JSON settings.

    Every driver passes ``input.format`` as it is: ``auto`` is never resolved from a file's first
    lines, but reads each line by its own shape, so a line gets the same answer from ``scrub`` and
    from the worker whatever lines come before it (invariant 9).
    """
    return make_parser(fmt or cfg.format, nginx_log_format=cfg.nginx_log_format, json_fields=cfg.json_fields or None)


def key_rings(
    cfg: Config, store: KeyStore | None, clock: Callable[[], float] = time.time
) -> tuple[KeyRing, KeyRing]:
    """(visitor keys, data keys) with the lifetimes the privacy invariants require; ``clock``: when
    now is, for which period is current and when a key dies."""
    visitor = KeyRing("visitor", cfg.keys.visitor_rotation, cfg.keys.visitor_rotation + VISITOR_KEY_GRACE, store, clock)
    data = KeyRing("data", cfg.keys.data_rotation, cfg.security.window, store, clock)
    return visitor, data


def geo(cfg: Config) -> GeoLookup | None:
    return GeoLookup(cfg.geoip.country_db, cfg.geoip.asn_db) if cfg.geoip.country_db or cfg.geoip.asn_db else None


def scrubber(
    cfg: Config,
    fmt: str,
    visitor: KeyRing,
    data: KeyRing,
    subjects: SubjectKeys | None = None,
    restricted: Callable[[bytes], bool] | None = None,
    vocabulary: Vocabulary | None = None,
) -> Scrubber:
    """The reference core (``logscrub mask`` takes its parts; drivers take ``core``)."""
    return Scrubber(cfg, parser(cfg.input, fmt), visitor, data, geo(cfg), subjects, restricted, vocabulary)


def compiled(use: bool | None = None) -> bool:
    """Whether drivers run the compiled core: when it is loaded (``native.available()``), unless
    ``use`` says otherwise (tests run both)."""
    if use and not native.available():
        raise ImportError(native.describe())
    return native.available() if use is None else use


def vocabulary(cfg: AggregateConfig, use_native: bool | None = None) -> Any:
    """The day's counts for a core of ``core(..., use_native)``: they live inside the core that uses them."""
    return native_core.vocabulary(cfg.k) if compiled(use_native) else Vocabulary(cfg.k)


def core(
    cfg: Config,
    fmt: str,
    visitor: KeyRing,
    data: KeyRing,
    subjects: bool = False,
    restricted: Callable[[bytes], bool] | None = None,
    vocabulary: Any = None,
    use_native: bool | None = None,
) -> Core:
    """The per-line core drivers run: the compiled one when loaded (``compiled``), else the reference.
    ``subjects``: seal each line under its client's subject key (``core.subjects`` holds them);
    ``vocabulary``: from ``vocabulary`` with the same ``use_native``."""
    if compiled(use_native):
        reference = Scrubber(cfg, parser(cfg.input, fmt), visitor, data, geo(cfg), None, restricted)
        return NativeCore(cfg, fmt, reference, subjects, vocabulary)
    keys = SubjectKeys() if subjects else None
    return Scrubber(cfg, parser(cfg.input, fmt), visitor, data, geo(cfg), keys, restricted, vocabulary)


def aggregator(cfg: AggregateConfig) -> TrafficAggregator:
    """The base window's sums, as a raw loop keeps them between batches."""
    return TrafficAggregator(cfg.window, cfg.k, cfg.dimensions, cfg.allowed_lateness, cfg.publish_sketches)


def window_owner(cfg: AggregateConfig, event_slot: int, mark_releases: bool = False) -> WindowOwner[Any]:
    """The base window and every rollup span, each closed window feeding the next; and the events of
    each ``event_slot`` (``events.time_granularity``), held until it is over (``mark_releases``:
    the worker, whose partials a crash replays)."""
    levels = [aggregator(cfg)] + [
        TrafficAggregator(span, cfg.k, cfg.dimensions, cfg.allowed_lateness, cfg.publish_sketches, rollup=True)
        for span in cfg.rollups
    ]
    return WindowOwner(levels, idle_s=max(cfg.allowed_lateness, 1), event_slot=int(event_slot), mark_releases=mark_releases)
