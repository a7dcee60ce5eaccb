"""Invariant 2 on a generated log run through logscrub: ``python -m bench.linkability``.

Generates a log with known visitors (``bench.visitors``), runs every line through the pipeline
(optionally with GeoIP databases written for the log's networks), pairs each event with who sent
it, and measures it with ``bench.privacy``. This is the only bench module that calls logscrub, so
that the generator and the measure stay independent of the code they judge.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.privacy import Figures, linkability
from bench.visitors import Log, Truth, generate
from logscrub import config
from logscrub.scrub import build
from logscrub.scrub.slots import EventSlots
from logscrub.parsing.record import ParseError
from logscrub.parsing.formats import make_parser
from logscrub.privacy.geo import GeoLookup
from logscrub.privacy.ip import IPGeneralizer, parse_ip
from logscrub.privacy.url import PathGeneralizer
from logscrub.privacy.useragent import UAGeneralizer


_TRUTH = "\0truth"


@dataclass(frozen=True)
class Scrubbed:
    """The events of a log and, for each, the ground truth of the line it came from."""

    events: list[dict[str, Any]]
    truth: list[Truth]
    rejected: int
    withheld: int = 0  # in aggregates, no event: alone in the last-resort group

    def by_address(self, placeholders: Sequence[str] = ("(rare)",), by_time: bool = True) -> Figures:
        """Invariant 2 as defined: a group is linked when one full client address sent all of it."""
        return linkability(self.events, [t.client for t in self.truth], placeholders, by_time=by_time)

    def by_visitor(self, placeholders: Sequence[str] = ("(rare)",), by_time: bool = True) -> Figures:
        """The stricter variant: one person sent it all, whatever addresses they used."""
        return linkability(self.events, [t.visitor for t in self.truth], placeholders, by_time=by_time)


def scrub(log: Log, env: Mapping[str, str] | None = None) -> Scrubbed:
    """Every line through the per-line pipeline with the default config plus ``env`` overrides
    (``LOGSCRUB_SECTION__KEY``), then each (site, slot)'s events through the window owner's check,
    slot after slot, as ``scrub`` and the worker write them; rejected lines are dropped with their
    truth, and the events the owner withholds with theirs."""
    cfg = config.load(None, env=dict(env or {}))
    visitor, data = build.key_rings(cfg, None)
    scrubber = build.scrubber(cfg, "combined", visitor, data)
    now = time.time()
    slots: dict[tuple[str, int], tuple[list[dict[str, Any]], list[int], list[Truth]]] = {}
    rejected = withheld = 0
    for line, who in zip(log.lines, log.truth, strict=True):
        o = scrubber.process(line.encode(), now)
        if o.event is None or o.update is None or o.timestamp_ms is None:
            withheld += o.withheld
            rejected += not o.withheld
            continue
        made, clients, truths = slots.setdefault((o.event["site"], o.timestamp_ms), ([], [], []))  # as Routed.add
        made.append(o.event)
        clients.append(o.update.client)
        truths.append(who)
    held: EventSlots[None] = EventSlots(int(cfg.events.time_granularity))
    events: list[dict[str, Any]] = []
    truth: list[Truth] = []

    def publish(made: list[dict[str, Any]]) -> None:
        for event in made:
            truth.append(event.pop(_TRUTH))
            events.append(event)

    for (site, start), (made, clients, truths) in sorted(slots.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        publish(held.release_days(held.days_due(lambda _, at=start // 1000: at))[0])
        for event, who in zip(made, truths, strict=True):
            event[_TRUTH] = who  # not a field the owner reads; copies made coarser keep it
        held.add({"site": site, "window": start // 1000, "events": made, "clients": clients}, None, 0, now)
        publish(held.release([(site, start // 1000)])[0])
    publish(held.release_days(held.days_idle(float("inf"), 0))[0])
    groups = held.groups
    return Scrubbed(events, truth, rejected, withheld + groups.refused)


def baseline(log: Log, env: Mapping[str, str] | None = None) -> Scrubbed:
    """Events as logscrub/1 built them before any k-anonymity: the /24 or /48, user-agent families
    and majors, GeoIP when ``env`` names databases, path templates. This is what the real log's
    79% / 15% were measured on, built from the generalizers alone so that it keeps measuring the
    *log* while the pipeline's publishing rules change."""
    cfg = config.load(None, env=dict(env or {}))
    parse = make_parser("combined")
    uas, ips = UAGeneralizer(), IPGeneralizer("truncate", 24, 48)
    paths = PathGeneralizer(cfg.url.path_rules, cfg.url.query_allow)
    geo = GeoLookup(cfg.geoip.country_db, cfg.geoip.asn_db) if cfg.geoip.country_db or cfg.geoip.asn_db else None
    events: list[dict[str, Any]] = []
    truth: list[Truth] = []
    rejected = 0
    for line, who in zip(log.lines, log.truth, strict=True):
        try:
            req = parse(line)
        except ParseError:
            rejected += 1
            continue
        ip = parse_ip(req.client)
        ua = uas(req.user_agent)
        where = geo.lookup(ip) if geo is not None else None
        events.append({
            "time": req.time.strftime("%Y-%m-%dT%H:%M:00%z"), "site": cfg.input.site, "path": paths(req.target)[0],
            "client": ips(ip), "browser": ua.browser, "browser_major": ua.browser_major, "os": ua.os,
            "os_major": ua.os_major, "device": ua.device, "bot": ua.bot,
            "country": where.country if where else None, "asn": where.asn if where else None,
            "as_org": where.as_org if where else None,
        })
        truth.append(who)
    if geo is not None:
        geo.close()
    return Scrubbed(events, truth, rejected)


def write_geoip(log: Log, directory: str | Path) -> dict[str, str]:
    """GeoLite2-like country and ASN files for the log's networks; returns the env overrides that
    point logscrub at them. Same record layout as ``tests/mmdb.py`` (which bench cannot import)."""
    from mmdb_writer import MMDBWriter, MmdbU32
    from netaddr import IPSet

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"country": out / "country.mmdb", "asn": out / "asn.mmdb"}
    for kind, path in paths.items():
        writer = MMDBWriter(ip_version=6, database_type=f"GeoLite2-{kind.title()}", languages=["en"],
                            description=f"bench.linkability {kind}", ipv4_compatible=True)
        for n in log.networks:
            record: dict[str, Any] = (
                {"country": {"iso_code": n.country, "names": {"en": n.country}}} if kind == "country"
                else {"autonomous_system_number": MmdbU32(n.asn), "autonomous_system_organization": n.as_org}
            )
            writer.insert_network(IPSet([n.cidr]), record)
        writer.to_db_file(str(path))
    return {"LOGSCRUB_GEOIP__COUNTRY_DB": str(paths["country"]), "LOGSCRUB_GEOIP__ASN_DB": str(paths["asn"])}


def main(argv: list[str] | None = None) -> int:
    """Print the log's statistics and invariant 2's figures without and with GeoIP."""
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--days", type=int, default=4)
    p.add_argument("--visitors-per-day", type=int, default=250)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    started = time.perf_counter()
    log = generate(a.days, a.visitors_per_day, a.seed)
    generated = time.perf_counter()
    print(f"log:        {log.stats().render()} (generated in {generated - started:.2f}s)")
    with tempfile.TemporaryDirectory() as tmp:
        geoip = write_geoip(log, tmp)
        for name, env in (("no GeoIP", {}), ("GeoIP", geoip)):
            for how, run in (("baseline", baseline), ("logscrub", scrub)):
                t0 = time.perf_counter()
                s = run(log, env)
                t1 = time.perf_counter()
                address, visitor = s.by_address(), s.by_visitor()
                t2 = time.perf_counter()
                print(f"{how}, {name}: {address.render()}")
                print(f"    by visitor: linked {visitor.linked:.1%}, without client {visitor.linked_without_client:.1%}"
                      f" ({t1 - t0:.2f}s to build the events, {t2 - t1:.2f}s to measure)")
    return 0


def bench_figures(days: int = 4, visitors_per_day: int = 190, seed: int = 1) -> dict[str, Any]:
    """Invariant 2's figures for ``make bench``: linked events and what events keep, by
    ``events.client`` mode and with GeoIP, and the share of aggregate buckets held back under k."""
    from logscrub.run.scrub_files import scrub as scrub_files

    log = generate(days, visitors_per_day, seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        geoip = write_geoip(log, tmp)
        for name, env in (("default", {}), ("default, GeoIP", geoip),
                          ("events.client: network", {"LOGSCRUB_EVENTS__CLIENT": "network"}),
                          ("events.client: pseudonym", {"LOGSCRUB_EVENTS__CLIENT": "pseudonym"})):
            s = scrub(log, env)
            address, visitor = s.by_address(), s.by_visitor()
            rows.append({
                "config": name, "events": address.events, "linked": round(address.linked, 4),
                "linked_by_person": round(visitor.linked, 4), "path_kept": round(address.path_kept, 4),
                "browser_kept": round(address.browser_kept, 4), "by_day": round(address.by_day, 4),
                "linked_by_request": round(address.linked_by_request, 4), "dominated": round(address.dominated, 4),
                "linked_by_fewer": round(address.linked_by_fewer, 4),
                "rare_description": round(sum(e["browser"] == "(rare)" for e in s.events) / len(s.events), 4),
                "withheld": s.withheld,
            })
        path = Path(tmp) / "access.log"
        path.write_text("\n".join(log.lines) + "\n")
        summary = scrub_files(config.load(None, env={}), [str(path)], Path(tmp) / "out", progress=False,
                              keys=Path(tmp) / "keys" / "keys.json")
    held = summary.suppressed / (summary.suppressed + summary.aggregates) if summary.aggregates else 0.0
    return {"log": {"days": days, "visitors_per_day": visitors_per_day, "seed": seed, "lines": len(log.lines)},
            "events": rows, "aggregates": {"records": summary.aggregates, "buckets_held_back": summary.suppressed,
                                           "held_back_share": round(held, 4),
                                           "rollups_short_by_under_k": summary.undercounted}}


if __name__ == "__main__":
    raise SystemExit(main())
