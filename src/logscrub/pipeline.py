"""Wiring shared by every driver: config -> parser, key rings, GeoIP, scrubber."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from logscrub.aggregate import TrafficAggregator
from logscrub.config import Config
from logscrub.core import Scrubber
from logscrub.keys import KeyRing, KeyStore
from logscrub.parsing.registry import detect_format, make_parser
from logscrub.privacy.geo import GeoLookup
from logscrub.security.subjects import SubjectKeys

VISITOR_KEY_GRACE = 3600  # late lines may still join their day's visitor count for an hour


def resolve_format(cfg: Config, first_lines: Iterable[str]) -> str:
    """The configured format, or the one the first lines look like."""
    if cfg.input.format != "auto":
        return cfg.input.format
    return detect_format(list(first_lines))


def key_rings(cfg: Config, store: KeyStore | None) -> tuple[KeyRing, KeyRing]:
    """(visitor keys, data keys) with the lifetimes the privacy invariants require."""
    visitor = KeyRing("visitor", cfg.keys.visitor_rotation, cfg.keys.visitor_rotation + VISITOR_KEY_GRACE, store)
    data = KeyRing("data", cfg.keys.data_rotation, cfg.security.window, store)
    return visitor, data


def build_scrubber(
    cfg: Config,
    fmt: str,
    visitor: KeyRing,
    data: KeyRing,
    subjects: SubjectKeys | None = None,
    restricted: Callable[[bytes], bool] | None = None,
) -> Scrubber:
    parser = make_parser(fmt, nginx_log_format=cfg.input.nginx_log_format, json_fields=cfg.input.json_fields or None)
    geo = None
    if cfg.geoip.country_db or cfg.geoip.asn_db:
        geo = GeoLookup(cfg.geoip.country_db, cfg.geoip.asn_db)
    return Scrubber(cfg, parser, visitor, data, geo, subjects, restricted)


def build_aggregator(cfg: Config) -> TrafficAggregator:
    a = cfg.aggregate
    return TrafficAggregator(a.window, a.k, a.dimensions, a.allowed_lateness)
