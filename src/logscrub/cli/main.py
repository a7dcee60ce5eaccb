"""The ``logscrub`` command."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import Any

from logscrub import __version__, native
from logscrub.cli import errors
from logscrub.cli import responders as security_cli
from logscrub.cli.errors import EXIT_CONFIG, EXIT_FAILED
from logscrub.config import IP_MODES, LOG_LEVELS, load, render
from logscrub.parsing.formats import INPUT_FORMATS

MASK_EPILOG = """\
Like anonip, for GoAccess, AWStats, the Matomo log importer or for keeping: the same lines in the
same format. Per line: the client generalized per ip.* (truncate: the network address, without
its /prefix; pseudonym; drop: '-'), trusted proxies and X-Forwarded-For as the worker reads them;
ident and user '-'; the path templated (/users/{param}) and the query reduced to url.query_allow;
the referrer reduced to https://DOMAIN/; the user agent generalized (Firefox/128 (Windows 10;
desktop)) or, with --user-agent keep, kept when ua-parser names its browser (addresses, emails and
tokens in it still masked; a free-text agent such as 'jdoe-bot' is generalized). Trailing fields
and JSON fields no parser reads are masked as free text.

Pseudonyms (ip.mode pseudonym) use a daily key made in memory and never stored: they link a
client's lines within one day of one run, and nothing after the process ends.

As an Apache piped log: CustomLog "|/usr/bin/logscrub mask --out /var/log/apache2/access.masked.log" combined
(--out appends, so a restarted logger never truncates; from a pipe every line is written as soon as
it is read). In a pipeline: zcat access.log.gz | logscrub mask | goaccess -. A consumer that stops
reading (| head) ends mask quietly with exit status 141, as it would end zcat or cat.

nginx custom log_format is not supported (its parser gives no field positions): log with
escape=json and use --format json.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="logscrub",
        description="Anonymize web-server access logs: analytics without personal data, "
        "raw lines encrypted for a short security window.",
        epilog=errors.EXIT_STATUSES,
    )
    p.add_argument("--version", action="version", version=f"logscrub {__version__} (core: {native.core()})")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser(
        "scrub",
        help="run the pipeline on files, no broker",
        description="Run the pipeline on log files (plain or gzip, '-' for stdin) and write one "
        "JSON-lines file per output topic into --out. The keys that open the sealed raw lines are kept in "
        "--keys, never in --out. Time slots and windows not over yet (plus aggregate.allowed_lateness) are "
        "not written: a later run over the grown log writes them.",
    )
    s.add_argument("inputs", nargs="*", metavar="FILE", help="log files; '-' or none for stdin")
    s.add_argument("--out", required=True, metavar="DIR", help="output directory")
    s.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults)")
    s.add_argument("--format", choices=INPUT_FORMATS, help="input format (overrides input.format)")
    s.add_argument(
        "--keys", metavar="FILE", help="keys file, mode 0600 in a directory of mode 0700, outside --out "
        "(default: $XDG_STATE_HOME/logscrub/keys.json, else ~/.local/state/logscrub/keys.json)",
    )  # fmt: skip
    s.add_argument("--quiet", action="store_true", help="no progress display (shown only on a terminal anyway)")
    s.set_defaults(func=_scrub)

    m = sub.add_parser(
        "mask",
        help="anonymize a log into the same format, like anonip (a filter)",
        description="Read a log (files, gzip or stdin) and write the same lines in the same format to\n"
        "stdout (or --out FILE), every personal field generalized by the rules the analytics use.",
        epilog=MASK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("inputs", nargs="*", metavar="FILE", help="log files, plain or gzip; '-' or none for stdin")
    m.add_argument("--out", metavar="FILE", help="append to FILE instead of writing to stdout")
    m.add_argument("--format", choices=INPUT_FORMATS, help="input format (overrides input.format; auto: decided "
                   "from the first lines read)")
    m.add_argument("--unparsed", choices=("drop", "mask"), default="drop",
                   help="lines that do not parse: dropped (default), or written with every address, email, "
                   "token and path masked; counted either way")
    m.add_argument("--user-agent", choices=("generalize", "keep"), default="generalize",
                   help="default: generalize to browser, OS and device")
    m.add_argument("--ip-mode", choices=IP_MODES, help="overrides ip.mode")
    m.add_argument("--ipv4-prefix", type=int, metavar="BITS", help="overrides ip.ipv4_prefix (at most 24)")
    m.add_argument("--ipv6-prefix", type=int, metavar="BITS", help="overrides ip.ipv6_prefix (at most 64)")
    shown = m.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help="no progress and no summary on stderr")
    shown.add_argument("--progress", action="store_true", help="show progress on a terminal even when "
                       "writing to a pipe (default: only with --out or stdout redirected to a file)")
    _config_arg(m)
    m.set_defaults(func=_mask)

    w = sub.add_parser(
        "worker",
        help="run a Kafka worker",
        description="Consume logs.raw and write the analytics, security and rejected topics. Refuses to "
        "start when a raw-zone topic keeps data longer than security.window. Scale by starting more "
        "workers (up to the number of logs.raw partitions).",
    )
    _config_arg(w)
    _log_level_arg(w)
    w.set_defaults(func=_worker)

    sh = sub.add_parser(
        "ship",
        help="send log lines to logs.raw",
        description="Send lines from files (or '-' for stdin, e.g. as an Apache piped log) to logs.raw "
        "with acks=all and idempotence, never making the writer wait: lines the broker does not take go to "
        "the spool (ship.spool_dir). With --follow, keeps reading like tail -F across rotation; with "
        "--offsets, resumes after a restart where the last run left off.",
    )
    sh.add_argument("inputs", nargs="*", metavar="FILE", help="log files; '-' or none for stdin")
    sh.add_argument("--follow", action="store_true", help="keep reading as the files grow and rotate")
    sh.add_argument("--offsets", metavar="FILE", help="file that remembers acknowledged positions")
    _config_arg(sh)
    _log_level_arg(sh, " (DEBUG and INFO also show the Kafka client's own messages)")
    sh.set_defaults(func=_ship)

    tp = sub.add_parser("topics", help="create or check the topics", description="Topics from config.")
    tsub = tp.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("apply", "create missing topics and fix their configs"), ("check", "report differences")):
        a = tsub.add_parser(name, help=text, description=text)
        _config_arg(a)
        a.set_defaults(func=_topics)
    _acl_parser(tsub)

    cp = sub.add_parser("config", help="validate or show the config", description="The config as logscrub sees it.")
    csub = cp.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = csub.add_parser(
        "check",
        help="validate a config file",
        description="Load FILE with the LOGSCRUB_* environment overrides, as every command does at start-up. "
        "Prints ok, or names the key, the value and what is allowed (exit 2).",
    )
    c.add_argument("file", nargs="?", metavar="FILE", help="YAML config (default: built-in defaults)")
    _config_arg(c)
    c.set_defaults(func=_config_check)
    v = csub.add_parser(
        "show",
        help="print the effective config",
        description="Print the effective config (file + LOGSCRUB_* overrides + defaults) as YAML, "
        "secrets masked. The output is itself a valid config file.",
    )
    _config_arg(v)
    v.set_defaults(func=_config_show)
    sc = sub.add_parser(
        "schema",
        help="list the record schemas, or print one (JSON Schema)",
        description="Without NAME, list the JSON Schemas (Draft 2020-12) of every record type of every output "
        "topic. With NAME (a schema name such as logscrub.event/2, or its topic's name as --config names it), "
        "print that schema.",
    )
    sc.add_argument("name", nargs="?", metavar="NAME", help="schema or topic name")
    _config_arg(sc)
    sc.set_defaults(func=_schema)
    rp = sub.add_parser(
        "report",
        help="measure the analytics outputs: groups, placeholders, (other) buckets, duplicates",
        description="What can be measured from the analytics outputs alone. Events, per day: the groups of "
        "client-describing fields and the smallest, the share of events whose path, browser, description or "
        "referrer domain is (rare). Traffic: buckets per span, the share of (other) buckets, windows published "
        "per site. Duplicates by id. Reads a scrub --out folder, or with --topics the two analytics topics "
        "(to their end offsets, without a consumer group: the analysts' ACLs are enough).",
    )
    rp.add_argument("out", nargs="?", metavar="OUT", help="a logscrub scrub --out folder")
    rp.add_argument("--topics", action="store_true", help="read analytics.events and analytics.traffic instead")
    rp.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    rp.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                    help="with --topics: give up when a topic is not read to its end by then (default 600)")
    _config_arg(rp)
    rp.set_defaults(func=_report)
    security_cli.add_commands(sub, _config_arg)
    return p


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults + LOGSCRUB_* env)")


def _log_level_arg(p: argparse.ArgumentParser, note: str = "") -> None:
    p.add_argument("--log-level", choices=LOG_LEVELS, help=f"overrides logging.level{note}")


def _worker(args: argparse.Namespace) -> int:
    from logscrub.run import worker

    cfg = load(args.config)
    errors.require_broker(cfg.kafka)
    return worker.run(cfg, args.log_level)


def _ship(args: argparse.Namespace) -> int:
    import signal
    import threading

    from logscrub.ops import logsetup as logs
    from logscrub.run.ship import ship

    cfg = load(args.config)
    inputs = errors.check_inputs(errors.stdin_inputs(args.inputs), may_appear=args.follow)
    level = args.log_level or cfg.logging.level
    logs.setup_logging(level, cfg.logging.json)
    errors.quiet_client_libraries(level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stats = ship(cfg, inputs, follow=args.follow, offsets_path=args.offsets, stop=stop)
    print(stats.summary(), file=sys.stderr)
    return EXIT_FAILED if stats.lines_dropped else 0


def _topics(args: argparse.Namespace) -> int:
    from logscrub.kafka import topics

    cfg = load(args.config)
    errors.require_broker(cfg.kafka)
    with topics.admin_client(cfg.kafka) as admin:
        if args.action == "apply":
            for line in topics.apply_topics(cfg, admin):
                print(line)
            return 0
        problems = topics.check_topics(cfg, admin)
    for line in problems:
        print(line)
    if not problems:
        print("all topics agree with the config")
    return EXIT_FAILED if problems else 0


def _acl_parser(tsub: Any) -> None:
    from logscrub.kafka.acl import Principals

    a = tsub.add_parser(
        "acl",
        help="print (or --apply) the ACLs of logscrub's principals",
        description="The least-privilege ACLs of the four principals for the topics in the config: workers, "
        "shippers, analysts (analytics topics only, consumer groups under kafka.analyst_group_prefix) and "
        "responders (the security topics). Printed as a table, or as the kafka-acls.sh commands that create "
        "them; --apply creates the missing ones (as a principal allowed to ALTER the cluster).",
    )
    how = a.add_mutually_exclusive_group()
    how.add_argument("--apply", action="store_true", help="create the ACLs the cluster lacks")
    how.add_argument("--format", choices=("table", "kafka-acls"), default="table",
                     help="print a table (default) or one kafka-acls.sh --add command per row")
    a.add_argument("--command-config", metavar="FILE",
                   help="with --format kafka-acls: the admin client properties file the commands pass on")
    for f in dataclasses.fields(Principals):
        a.add_argument(
            f"--{f.name}", default=f.default, type=_principal, metavar="PRINCIPAL", help=f"default: {f.default}"
        )
    _config_arg(a)
    a.set_defaults(func=_topics_acl)


def _principal(text: str) -> str:
    from logscrub.kafka.acl import PRINCIPAL

    if not PRINCIPAL.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected a Kafka principal like User:analyst, got {text!r}")
    return text


def _topics_acl(args: argparse.Namespace) -> int:
    from logscrub.kafka import acl, topics

    cfg = load(args.config)
    principals = acl.Principals(args.workers, args.shippers, args.analysts, args.responders)
    grants = acl.desired_acls(cfg, principals)
    if args.command_config is not None and args.format != "kafka-acls":
        raise errors.UsageError("--command-config goes with --format kafka-acls")
    if args.format == "kafka-acls":
        print(acl.render_kafka_acls(grants, cfg.kafka.bootstrap_servers, args.command_config), end="")
        return 0
    if not args.apply:
        print(acl.render_table(grants), end="")
        return 0
    errors.require_broker(cfg.kafka)
    with topics.admin_client(cfg.kafka) as admin:
        for line in acl.apply_acls(cfg.kafka, admin, grants):
            print(line)
    return 0


def _schema(args: argparse.Namespace) -> int:
    from logscrub.outputs import schemas

    topics = load(args.config).topics
    if args.name is None:
        rows = [("name", "topic", "told by", "record")]
        rows += [(s.name, getattr(topics, s.role).name, s.tag, s.summary) for s in schemas.SCHEMAS]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
        return 0
    try:
        chosen = schemas.find(args.name, topics)
    except schemas.UnknownSchema:
        known = ", ".join(s.name for s in schemas.SCHEMAS)
        raise errors.UsageError(f"no schema called {args.name!r}: one of {known}, or its topic's name") from None
    print(schemas.text(chosen), end="")
    return 0


def _report(args: argparse.Namespace) -> int:
    import orjson

    from logscrub.outputs.report import Measure, render

    if args.topics == (args.out is not None):
        raise errors.UsageError("give a scrub --out folder, or --topics, not both" if args.topics else
                                "give a scrub --out folder, or --topics to read the analytics topics")
    cfg = load(args.config)
    names = {"events": cfg.topics.events.name, "traffic": cfg.topics.traffic.name}
    measure = Measure()
    add = {"events": measure.event, "traffic": measure.traffic}
    if args.topics:
        from logscrub.kafka.scan import scan

        errors.require_broker(cfg.kafka)
        for role, topic in names.items():
            for record in scan(cfg.kafka, topic, args.timeout):
                add[role](_json_value(orjson, record.value))
    else:
        for role, topic in names.items():
            path = os.path.join(args.out, f"{topic}.jsonl")
            if not os.path.isfile(path):
                raise errors.UsageError(f"{args.out} has no {topic}.jsonl: give the folder logscrub scrub --out wrote")
            with open(path, "rb") as lines:
                for line in lines:
                    add[role](_json_value(orjson, line))
    report = measure.report()
    if args.json:
        print(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        print(render(report, names["events"], names["traffic"]), end="")
    return 0


def _json_value(orjson: Any, data: bytes | None) -> Any:
    """A record's JSON value; None for one that is not JSON (counted as unreadable, never printed)."""
    try:
        return orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        return None


def _config_check(args: argparse.Namespace) -> int:
    if args.file and args.config and args.file != args.config:
        raise errors.UsageError(f"two configs given ({args.file} and --config {args.config}): give one")
    load(args.file or args.config)
    print("ok")
    return 0


def _config_show(args: argparse.Namespace) -> int:
    print(render(load(args.config)), end="")
    return 0


def _overrides(**settings: object) -> dict[str, str] | None:
    """The environment with command-line overrides as LOGSCRUB_* variables (validated like any)."""
    chosen = {f"LOGSCRUB_{name.upper()}": str(value) for name, value in settings.items() if value is not None}
    return {**os.environ, **chosen} if chosen else None


def _scrub(args: argparse.Namespace) -> int:
    from logscrub.run.scrub_files import scrub

    cfg = load(args.config, _overrides(input__format=args.format))
    errors.out_directory(args.out)
    inputs = errors.check_inputs(errors.stdin_inputs(args.inputs))
    summary = scrub(cfg, inputs, args.out, progress=False if args.quiet else None, keys=args.keys)
    print(summary.render())
    return 0 if summary.accounted else EXIT_FAILED


def _mask(args: argparse.Namespace) -> int:
    import signal

    from logscrub.files.read import Inputs
    from logscrub.run.mask import NGINX_UNSUPPORTED, mask
    from logscrub.run.progress import wanted

    if args.format == "nginx":
        raise errors.UsageError(NGINX_UNSUPPORTED)
    cfg = load(args.config, _overrides(
        input__format=args.format, ip__mode=args.ip_mode, ip__ipv4_prefix=args.ipv4_prefix,
        ip__ipv6_prefix=args.ipv6_prefix,
    ))  # fmt: skip
    inputs = Inputs(errors.check_inputs(errors.stdin_inputs(args.inputs)))
    errors.out_file(args.out)
    # Progress only where no other program owns the terminal: not into a pipe (| goaccess -) nor
    # between the masked lines on the terminal.
    show = not args.quiet and wanted(None) and (args.progress or args.out is not None or errors.stdout_is_file())
    signal.signal(signal.SIGTERM, errors.stop_on_signal)  # Apache stops its piped loggers so: flush first
    out = open(args.out, "ab") if args.out else sys.stdout.buffer  # noqa: SIM115
    try:
        summary = mask(cfg, inputs, out, unparsed=args.unparsed, user_agent=args.user_agent, progress=show)
    except errors.Stopped:
        return 0
    finally:
        if args.out:
            out.close()
    if not args.quiet and (show or sum(summary.unparsed.values())):
        print(summary.render(), file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with errors.client_libraries_quiet():
        return errors.run(args.func, args)
