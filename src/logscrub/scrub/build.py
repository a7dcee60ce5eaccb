"""Config to the core's parts: the parser, key rings, GeoIP, the scrubber, the aggregator. Every driver wires here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logscrub.config import AggregateConfig, Config, InputConfig
from logscrub.crypto.keyring import VISITOR_KEY_GRACE, KeyRing, KeyStore
from logscrub.crypto.subjects import SubjectKeys
from logscrub.parsing.formats import Parser, make_parser
from logscrub.privacy.geo import GeoLookup
from logscrub.scrub.aggregate import TrafficAggregator
from logscrub.scrub.scrubber import Scrubber
from logscrub.scrub.vocabulary import Vocabulary
from logscrub.scrub.windows import WindowOwner



def parser(cfg: InputConfig, fmt: str | None = None) -> Parser:
    """The parser of ``fmt`` (default: ``input.format``) with the input's nginx and JSON settings.

    Every driver passes ``input.format`` as it is: ``auto`` is never resolved from a file's first
    lines, but reads each line by its own shape, so a line gets the same answer from ``scrub`` and
    from the worker whatever lines come before it (invariant 9).
    """
    return make_parser(fmt or cfg.format, nginx_log_format=cfg.nginx_log_format, json_fields=cfg.json_fields or None)


def key_rings(cfg: Config, store: KeyStore | None) -> tuple[KeyRing, KeyRing]:
    """(visitor keys, data keys) with the lifetimes the privacy invariants require."""
    visitor = KeyRing("visitor", cfg.keys.visitor_rotation, cfg.keys.visitor_rotation + VISITOR_KEY_GRACE, store)
    data = KeyRing("data", cfg.keys.data_rotation, cfg.security.window, store)
    return visitor, data


def scrubber(
    cfg: Config,
    fmt: str,
    visitor: KeyRing,
    data: KeyRing,
    subjects: SubjectKeys | None = None,
    restricted: Callable[[bytes], bool] | None = None,
    vocabulary: Vocabulary | None = None,
) -> Scrubber:
    geo = None
    if cfg.geoip.country_db or cfg.geoip.asn_db:
        geo = GeoLookup(cfg.geoip.country_db, cfg.geoip.asn_db)
    return Scrubber(cfg, parser(cfg.input, fmt), visitor, data, geo, subjects, restricted, vocabulary)


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
