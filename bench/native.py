"""Each compiled piece against its Python reference: µs per call on the generated log, one core.

Python's pieces keep their own caches (parsed addresses, path templates, CLF times), so each
reference is measured from a fresh instance over the log in order, caches filling as they would in
a run; the compiled pieces have no caches yet. "via adapter" is what `logscrub.native` returns (the
reference's types, built in Python); "raw" is the binding's own return (tuples, bytes), the cost the
phase-2 batch loop would pay per line without crossing into Python at all for it; "core only" runs a
whole batch in one call (the lines converted in, nothing built out).

    python -m bench.native [--lines N]   ->  bench/native.{json,md}
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.sample import generate
from logscrub import config, native
from logscrub.crypto import envelope
from logscrub.crypto.keyring import Key
from logscrub.crypto.subjects import subject_id
from logscrub.parsing.formats import make_parser
from logscrub.privacy import ip as ip_module
from logscrub.privacy.ip import IPGeneralizer, client_ip, networks, parse_ip
from logscrub.privacy.url import PathGeneralizer
from logscrub.run.scrub_files import scrub
from logscrub.scrub import slots
from logscrub.scrub.scrubber import _visitor_hash

OUT = Path(__file__).resolve().parent


def per_call(fn: Callable[[Any], Any], items: Sequence[Any], fresh: Callable[[], Callable[[Any], Any]] | None = None,
             repeats: int = 3) -> float:
    """Best µs per call over ``repeats`` passes (``fresh`` rebuilds a cached callable for each pass)."""
    best = float("inf")
    for _ in range(repeats):
        f = fresh() if fresh is not None else fn
        t = time.perf_counter()
        for item in items:
            f(item)
        best = min(best, time.perf_counter() - t)
    return best / len(items) * 1e6


def measure(lines: list[str]) -> list[dict[str, Any]]:
    nat = native.module()
    rows: list[dict[str, Any]] = []

    def row(piece: str, python: float, adapter: float | None, raw: float, note: str = "") -> None:
        rows.append({"piece": piece, "python_us": round(python, 3), "native_adapter_us": None if adapter is None else round(adapter, 3),
                     "native_raw_us": round(raw, 3), "native_core_us": None, "speedup_raw": round(python / raw, 1), "note": note})

    def core_only(piece: str, run: Callable[[], Any], n: int) -> None:
        """The batch entry points: the whole loop in Rust, no Python object per item (items converted in)."""
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t)
        entry = next(r for r in rows if r["piece"] == piece)
        entry["native_core_us"] = round(best / n * 1e6, 3)

    # Parsing: combined lines (the generated log's format).
    ref = make_parser("combined")
    compiled = native.make_parser("combined")
    raw = nat.Parser("combined").parse

    def safe(p: Callable[[str], Any]) -> Callable[[str], Any]:
        def f(line: str) -> Any:
            try:
                return p(line)
            except ValueError:
                return None
        return f

    row("parse combined line", per_call(safe(ref), lines), per_call(safe(compiled), lines), per_call(raw, lines),
        "reference caches CLF times per second and minute")
    batch = nat.Parser("combined")
    core_only("parse combined line", lambda: batch.count_parsed(lines), len(lines))

    requests = [r for r in map(safe(ref), lines) if r is not None]
    # The same requests as nginx escape=json lines, and as a custom log_format.
    json_lines = [json.dumps({
        "remote_addr": r.client, "time_iso8601": r.time.isoformat(), "request": f"{r.method} {r.target} {r.protocol}",
        "status": str(r.status), "body_bytes_sent": str(r.bytes), "http_referer": r.referrer or "",
        "http_user_agent": r.user_agent or "", "request_time": "0.012"}) for r in requests]
    json_ref, json_nat = make_parser("json"), native.make_parser("json")
    json_raw = nat.Parser("json")
    row("parse JSON line (nginx escape=json)", per_call(safe(json_ref), json_lines), per_call(safe(json_nat), json_lines),
        per_call(json_raw.parse, json_lines), "reference: orjson.loads + field plan; ISO times cached")
    core_only("parse JSON line (nginx escape=json)", lambda: json_raw.count_parsed(json_lines), len(json_lines))
    spec = '$remote_addr [$time_local] "$request" $status $body_bytes_sent "$http_user_agent" $request_time'
    nginx_lines = [f'{r.client} [{line.split("[", 1)[1].split("]", 1)[0]}] "{r.method} {r.target} {r.protocol}" {r.status} '
                   f'{r.bytes} "{r.user_agent or "-"}" 0.012' for r, line in zip(requests, lines)]
    ng_ref, ng_nat = make_parser("nginx", nginx_log_format=spec), native.make_parser("nginx", nginx_log_format=spec)
    from logscrub.parsing.nginx_format import read_log_format
    ng_raw = nat.Parser("nginx", *read_log_format(spec))
    row("parse nginx log_format line", per_call(safe(ng_ref), nginx_lines), per_call(safe(ng_nat), nginx_lines),
        per_call(ng_raw.parse, nginx_lines), "a compiled regex per format in both")
    core_only("parse nginx log_format line", lambda: ng_raw.count_parsed(nginx_lines), len(nginx_lines))
    peers = [r.client for r in requests]
    row("parse client address", per_call(parse_ip, peers, fresh=lambda: (ip_module._parse.cache_clear(), parse_ip)[1]),
        per_call(native.parse_ip, peers), per_call(nat.parse_ip, peers), "reference: lru_cache on the text (32k)")
    trusted = networks(["10.0.0.0/8", "192.0.2.0/24"])
    trusted_n = native.trusted_networks(trusted)
    chains = [(p, "203.0.113.5, 10.0.0.1") for p in peers]
    row("client_ip with X-Forwarded-For", per_call(lambda c: client_ip(c[0], c[1], trusted), chains),
        per_call(lambda c: native.client_ip(c[0], c[1], trusted_n), chains),
        per_call(lambda c: nat.client_ip(c[0], c[1], trusted_n), chains))
    addresses = [a for a in map(parse_ip, peers) if a is not None]
    packed = [a.packed for a in addresses]
    gen = IPGeneralizer("truncate")
    row("truncate address (/24, /48)", per_call(gen, addresses), per_call(lambda a: native.generalize_ip(a, "truncate", 24, 48), addresses),
        per_call(lambda p: nat.generalize_ip(p, "truncate", 24, 48), packed), "reference: lru_cache per network")
    key = os.urandom(32)
    pseud = IPGeneralizer("pseudonym")
    row("pseudonym (HMAC-SHA256)", per_call(lambda a: pseud(a, key), addresses), None,
        per_call(lambda p: nat.generalize_ip(p, "pseudonym", 24, 48, key), packed))

    # Paths and the query allowlist.
    targets = [r.target for r in requests]
    rules, allow = ["/users/*", "/u/*/profile"], ["page", "q", "lang", "sort"]
    row("path template + query allowlist", per_call(None, targets, fresh=lambda: PathGeneralizer(rules, allow)),  # type: ignore[arg-type]
        None, per_call(None, targets, fresh=lambda: native.path_generalizer(rules, allow)),  # type: ignore[arg-type]
        "both cache per target (50k) and per kept segment")
    core_only("path template + query allowlist", lambda: native.path_generalizer(rules, allow).count_decided(targets), len(targets))
    distinct = list(dict.fromkeys(targets))
    row("path template, distinct targets only", per_call(None, distinct, fresh=lambda: PathGeneralizer(rules, allow)),  # type: ignore[arg-type]
        None, per_call(None, distinct, fresh=lambda: native.path_generalizer(rules, allow)),  # type: ignore[arg-type]
        f"{len(distinct)} distinct of {len(targets)}: every call misses the target cache")
    core_only("path template, distinct targets only", lambda: native.path_generalizer(rules, allow).count_decided(distinct), len(distinct))

    # Sealing and keyed hashes.
    data_key = Key("data-1", 1, os.urandom(32), 0.0, 1.0)
    blines = [line.encode() for line in lines]
    now = time.time()
    sealing = [(b, os.urandom(12)) for b in blines]  # nonces drawn ahead, as the reference draws 256 at a time
    row("seal + serialize envelope", per_call(lambda b: orjson.dumps(envelope.seal(b[0], data_key, now, None, "0:1")), sealing),
        None, per_call(lambda b: nat.seal_json(b[0], data_key.kid, data_key.secret, now, None, "0:1", None, b[1]), sealing),
        "AES-256-GCM of a ~200-byte line, base64, envelope JSON; the reference caches its cipher per key")
    uas = [(a.packed, r.user_agent or "") for a, r in zip(addresses, requests)]
    vkey = os.urandom(32)
    row("visitor hash (keyed blake2b)", per_call(lambda u: _visitor_hash(vkey, u[0], u[1]), uas), None,
        per_call(lambda u: nat.visitor_hash(vkey, u[0], u[1]), uas))
    row("subject id (HMAC-SHA256)", per_call(lambda p: subject_id(data_key, p), packed), None,
        per_call(lambda p: nat.subject_id(data_key.secret, p), packed))

    # JSON writing of an event-shaped record (from Python objects: orjson is compiled too).
    events = [{"schema": "logscrub.event/1", "time": "2026-11-28T10:00:00Z", "site": "example.com", "method": r.method,
               "path": "/products/{id}", "protocol": r.protocol, "status": r.status, "status_class": "2xx", "bytes": r.bytes,
               "client": None, "country": None, "asn": None, "as_org": None, "browser": "Chrome", "browser_major": "131",
               "os": "Windows", "os_major": "10", "device": "pc", "bot": False, "referrer_domain": None,
               "referrer_class": "none"} for r in requests]
    row("write event JSON (from a dict)", per_call(orjson.dumps, events), None, per_call(nat.dumps, events),
        "orjson is compiled too; phase 2 writes from Rust values, no dict")

    # The window owner's share cap, per event through it: the slots ``scrub`` writes, again.
    calls = _owner_writes(lines)
    through = sum(len(args[2]) for args, _ in calls)
    row("share cap (window owner), per event", _replayed(calls, lambda: slots._Counts(slots.MAX_PAIRS)) / through * 1e6,
        None, _replayed(calls, slots._counts) / through * 1e6,
        f"{through} events through it; the day's own slot takes again those over the cap in theirs")
    return rows


def _owner_writes(lines: list[str]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The ``Groups.write`` calls ``scrub`` makes over ``lines`` (each slot's events and clients)."""
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    write = slots.Groups.write

    def recorded(self: slots.Groups, *args: Any, **kwargs: Any) -> slots.Written:
        calls.append((args, kwargs))
        return write(self, *args, **kwargs)

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "keys").mkdir(mode=0o700)
        (home / "in.log").write_text("".join(line + "\n" for line in lines))
        slots.Groups.write = recorded  # type: ignore[method-assign]
        try:
            scrub(config.load(None, env={}), [str(home / "in.log")], home / "out", progress=False,
                  keys=home / "keys" / "keys.json")
        finally:
            slots.Groups.write = write  # type: ignore[method-assign]
    return calls


def _replayed(calls: list[tuple[tuple[Any, ...], dict[str, Any]]], counts: Callable[[], Any]) -> float:
    """Best seconds of 3 to make ``calls`` again on a fresh ``Groups`` counting with ``counts``."""
    best, saved = float("inf"), slots._counts
    slots._counts = counts  # type: ignore[assignment]
    try:
        for _ in range(3):
            groups = slots.Groups()
            t = time.perf_counter()
            for args, kwargs in calls:
                groups.write(*args, **kwargs)
            best = min(best, time.perf_counter() - t)
    finally:
        slots._counts = saved  # type: ignore[assignment]
    return best


def render(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    out = [
        "# Compiled core vs Python reference, per piece",
        "",
        f"{meta['lines']} generated combined lines (bench/sample.py, seed {meta['seed']}), one core, {meta['machine']}, "
        f"Python {meta['python']}. µs per call, best of 3 passes; `python -m bench.native` writes this file.",
        "",
        "| piece | Python µs | native via adapter µs | native raw µs | native core only µs | raw speed-up | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        adapter = "" if r["native_adapter_us"] is None else f"{r['native_adapter_us']:.2f}"
        core = "" if r["native_core_us"] is None else f"{r['native_core_us']:.2f}"
        out.append(f"| {r['piece']} | {r['python_us']:.2f} | {adapter} | {r['native_raw_us']:.2f} | {core} | "
                   f"{r['speedup_raw']}x | {r['note']} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args(argv)
    if not native.available():
        raise SystemExit(f"bench.native needs the compiled core: {native.describe()}")
    lines = generate(a.lines, seed=a.seed)
    rows = measure(lines)
    meta = {"lines": a.lines, "seed": a.seed, "python": platform.python_version(), "machine": f"{os.cpu_count()} cores"}
    (OUT / "native.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    (OUT / "native.md").write_text(render(rows, meta))
    print(render(rows, meta))
    return 0


assert ipaddress  # addresses above are ipaddress objects, as the reference passes them

if __name__ == "__main__":
    raise SystemExit(main())
