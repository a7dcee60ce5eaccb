"""``logscrub keys``, ``logscrub security`` and ``logscrub subject``: the responders' commands."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from logscrub.cli.errors import require_broker
from logscrub.config import ConfigError, load, parse_duration
from logscrub.errors import Refused
from logscrub.crypto import master as master_key

if TYPE_CHECKING:
    from logscrub.config import Config
    from logscrub.responders.commands import Source

_EPILOG = f"The master key comes from {master_key.ENV} or {master_key.ENV_FILE}, never from the config file."


def add_commands(sub: Any, config_arg: Any) -> None:
    """Register the commands on the main parser's subparsers."""
    k = sub.add_parser("keys", help="master key and shared keys", description="The keys of the security zone.")
    ksub = k.add_subparsers(dest="action", required=True, metavar="ACTION")
    i = ksub.add_parser(
        "init",
        help="write a new master key file",
        description=f"Write a new random master key to FILE (mode 0600); point {master_key.ENV_FILE} at it.",
    )
    i.add_argument("file", metavar="FILE")
    i.set_defaults(func=_keys_init)
    st = ksub.add_parser(
        "status",
        help="show the live keys and when each dies",
        description="List the live data and visitor keys of the keys topic (ids and lifetimes, never key "
        "material).",
        epilog=_EPILOG,
    )
    config_arg(st)
    st.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    st.set_defaults(func=_keys_status)
    ex = ksub.add_parser(
        "expire",
        help="remove dead keys from a keys file of `logscrub scrub`",
        description="Remove from the keys file every key whose life is over (with the subject keys and erasure "
        "markers of its period) and the visitor keys of days already over, rewriting it atomically. "
        "`logscrub scrub` does this at every run; schedule this for the days it does not run.",
    )
    _keys_arg(ex)
    config_arg(ex)
    ex.set_defaults(func=_keys_expire)

    sec = sub.add_parser("security", help="search the raw buffer", description="For security responders.")
    ssub = sec.add_subparsers(dest="action", required=True, metavar="ACTION")
    se = ssub.add_parser(
        "search",
        help="search security.raw and logs.rejected",
        description="Open the raw lines still inside the security window and print those matching every "
        "filter given. Records whose key is gone or whose subject was erased are counted, not shown. "
        "Every search is recorded in the audit trail (who, when, the query, the counts): the audit topic, or "
        "with --from a file beside the keys file.",
        epilog=_EPILOG,
    )
    se.add_argument("--ip", metavar="ADDR|CIDR", type=_network, help="client address or network")
    se.add_argument("--since", metavar="TIME", type=_time, help="ISO time, or a duration ago (2h, 3d)")
    se.add_argument("--until", metavar="TIME", type=_time, help="ISO time, or a duration ago")
    se.add_argument("--path", metavar="PREFIX", help="request target starts with PREFIX")
    se.add_argument("--status", type=int, help="HTTP status")
    se.add_argument("--agent", metavar="TEXT", help="user agent contains TEXT (any case)")
    se.add_argument("--output", choices=("jsonl", "table"), default="jsonl", help="default: jsonl")
    _from_args(se)
    config_arg(se)
    se.set_defaults(func=_search)

    sj = sub.add_parser(
        "subject", help="data-subject requests", description="Access, erasure and restriction for one address."
    )
    jsub = sj.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
        ("export", "write every raw record of ADDR still inside the window as JSON (access, portability)"),
        ("erase", "destroy ADDR's subject keys: its raw records become unreadable now, others' stay readable"),
        ("restrict", "keep ADDR out of analytics from now on (workers still seal its lines)"),
    ):
        where = "the audit topic" if name == "restrict" else "the audit topic (with --from, a file beside the keys)"
        a = jsub.add_parser(name, help=text, description=f"{text}. Recorded in {where}.", epilog=_EPILOG)
        a.add_argument("--ip", metavar="ADDR", type=_address, required=True)
        if name != "restrict":
            _from_args(a)
        config_arg(a)
        if name == "export":
            a.add_argument("--out", metavar="FILE", help="write here instead of stdout")
        if name == "restrict":
            a.add_argument("--lift", action="store_true", help="end the restriction")
        a.set_defaults(func=_subject)


def _keys_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--keys", metavar="FILE", help="the keys file `logscrub scrub` used "
        "(default: $XDG_STATE_HOME/logscrub/keys.json, else ~/.local/state/logscrub/keys.json)",
    )  # fmt: skip


def _from_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from", dest="from_dir", metavar="DIR", help="read the output folder of `logscrub scrub --out DIR` instead "
        "of the cluster; audited in a file beside the keys file",
    )  # fmt: skip
    _keys_arg(p)


def _source(args: argparse.Namespace, cfg: Config, master: master_key.MasterKey) -> Source:
    """The cluster, or with --from the output folder of `scrub` and its keys file."""
    if args.from_dir is None:
        if args.keys is not None:
            raise Refused("--keys goes with --from DIR (on Kafka the keys are in the keys topic)")
        from logscrub.responders.commands import kafka_source

        require_broker(cfg.kafka)
        return kafka_source(cfg, master)
    from logscrub.responders.offline import files_source

    return files_source(cfg, args.from_dir, args.keys)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an address or a CIDR network") from None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("expected an IPv4 or IPv6 address") from None
    return ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip


def _time(text: str) -> datetime:
    try:
        return datetime.fromtimestamp(time.time() - parse_duration(text, "--since/--until"), UTC)
    except ConfigError:
        pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected an ISO time (2026-11-29T10:00Z) or a duration ago (2h)") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _keys_init(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Refused(f"{path} exists; a master key is never overwritten (records under it would be lost)") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(master_key.new_master_key() + "\n")
    print(f"wrote a new master key to {path}; set {master_key.ENV_FILE}={path}", file=sys.stderr)
    return 0


def _keys_status(args: argparse.Namespace) -> int:
    from logscrub.responders.commands import keys_status

    cfg = load(args.config)
    master = master_key.load()
    require_broker(cfg.kafka)
    status = keys_status(cfg, master)
    if args.json:
        print(orjson.dumps(status).decode())
        return 0
    now = time.time()
    print(f"{'ring':8} {'key id':40} {'created (UTC)':20} {'dies (UTC)':20} {'in':>9} {'subject keys':>12}")
    for k in status["keys"]:
        print(
            f"{k['ring']:8} {k['kid']:40} {_utc(k['created']):20} {_utc(k['expires']):20} "
            f"{_left(k['expires'] - now):>9} {'' if k['subject_keys'] is None else k['subject_keys']:>12}"
        )
    print(f"erasure markers: {status['erasures']}", file=sys.stderr)
    if status["unreadable"]:
        print(f"warning: {status['unreadable']} key records do not open under this master key", file=sys.stderr)
    return 0


def _keys_expire(args: argparse.Namespace) -> int:
    from logscrub.crypto.keyfile import KeyFile, default_path

    cfg = load(args.config)
    path = Path(args.keys) if args.keys else default_path()
    if not path.exists():
        print(f"no keys file {path}: nothing to remove", file=sys.stderr)
        return 0
    keyfile = KeyFile(path, create=False, past_not_kept={"visitor": cfg.keys.visitor_rotation})
    removed = keyfile.expire()
    state = keyfile.read()
    live = sum(len(state.live(ring, keyfile.clock())) for ring in state.keys)
    print(f"{path}: {removed} keys and subject keys removed; {live} live keys remain", file=sys.stderr)
    return 0


def _search(args: argparse.Namespace) -> int:
    from logscrub.responders.commands import find
    from logscrub.responders.search import Query

    cfg = load(args.config)
    master = master_key.load()
    query = Query(args.ip, args.since, args.until, args.path, args.status, args.agent)
    single = args.ip.network_address.packed if args.ip and args.ip.prefixlen == args.ip.max_prefixlen else None
    found = find(cfg, _source(args, cfg, master), master, query, "security search", single)
    if args.output == "table":
        print(f"{'time':25} {'client':39} {'status':>6} {'method':7} target")
        for r in found.records:
            when = r["time"] or _utc(r["ingested"])
            print(f"{when:25} {r['client'] or '-':39} {r['status'] or r['reason'] or '-'!s:>6} "
                  f"{r['method'] or '-':7} {(r['target'] or '')[:80]}")  # fmt: skip
    else:
        for r in found.records:
            sys.stdout.buffer.write(orjson.dumps(r) + b"\n")
    _summary(found)
    return 0


def _subject(args: argparse.Namespace) -> int:
    from logscrub.responders import commands
    from logscrub.responders.search import Query

    cfg = load(args.config)
    master = master_key.load()
    packed = args.ip.packed
    if args.action == "export":
        net = ipaddress.ip_network(args.ip)
        found = commands.find(cfg, _source(args, cfg, master), master, Query(network=net), "subject export", packed)
        doc = {
            "subject": str(args.ip),
            "exported_at": datetime.now(UTC).isoformat(),
            "security_window_s": cfg.security.window,
            "records": found.records,
            "erased_periods": [{"key": kid, "at": at} for kid, at in found.erased],
            "not_opened": {k: v for k, v in found.counts.items() if k not in ("read", "matched")},
        }
        data = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
        if args.out:
            Path(args.out).write_bytes(data)
        else:
            sys.stdout.buffer.write(data)
        _summary(found)
    elif args.action == "erase":
        result = commands.erase(_source(args, cfg, master), master, packed)
        print(f"erased: {result['keys_destroyed']} subject keys in {result['periods']} periods destroyed; "
              f"filed under subject {result['subject']}", file=sys.stderr)  # fmt: skip
    else:
        require_broker(cfg.kafka)
        result = commands.restrict(cfg, master, packed, args.lift)
        state = "restricted: kept out of analytics" if result["restricted"] else "restriction lifted"
        print(f"{state}; filed under subject {result['subject']}", file=sys.stderr)
    return 0


def _summary(found: Any) -> None:
    counts = found.counts
    parts = [f"{counts['read']} records read, {counts['matched']} matched"]
    parts += [f"{n} not opened: {why}" for why, n in counts.items() if why not in ("read", "matched")]
    print("; ".join(parts), file=sys.stderr)
    for kid, at in found.erased:
        print(f"this address was erased at {_utc(at)} (key {kid})", file=sys.stderr)


def _utc(t: float | None) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else "-"


def _left(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    return f"{d}d{h:02d}h" if d else f"{h}h{rem // 60:02d}m"
