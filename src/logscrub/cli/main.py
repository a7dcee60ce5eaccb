"""The ``logscrub`` command."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

from logscrub import __version__, native
from logscrub.config import ConfigError, load, render
from logscrub.parsing.formats import INPUT_FORMATS
from logscrub.errors import Refused
from logscrub.cli import responders as security_cli

EXIT_CONFIG = 2
EXIT_FAILED = 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="logscrub",
        description="Anonymize web-server access logs: analytics without personal data, "
        "raw lines encrypted for a short security window.",
    )
    p.add_argument("--version", action="version", version=f"logscrub {__version__} (core: {native.core()})")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser(
        "scrub",
        help="run the pipeline on files, no broker",
        description="Run the pipeline on log files (plain or gzip, '-' for stdin) and write one "
        "JSON-lines file per output topic into --out. Keys are kept in OUT/keys.json.",
    )
    s.add_argument("inputs", nargs="*", default=["-"], metavar="FILE", help="log files; '-' or none for stdin")
    s.add_argument("--out", required=True, metavar="DIR", help="output directory")
    s.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults)")
    s.add_argument("--format", choices=INPUT_FORMATS, help="input format (overrides input.format)")
    s.set_defaults(func=_scrub)

    w = sub.add_parser(
        "worker",
        help="run a Kafka worker",
        description="Consume logs.raw and write the analytics, security and rejected topics. Refuses to "
        "start when a raw-zone topic keeps data longer than security.window. Scale by starting more "
        "workers (up to the number of logs.raw partitions).",
    )
    _config_arg(w)
    w.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="overrides logging.level")
    w.set_defaults(func=_worker)

    sh = sub.add_parser(
        "ship",
        help="send log lines to logs.raw",
        description="Send lines from files (or '-' for stdin, e.g. as an Apache/nginx piped log) to logs.raw "
        "with acks=all and idempotence. With --follow, keeps reading like tail -F across rotation; with "
        "--offsets, resumes after a restart where the broker's acknowledgements left off.",
    )
    sh.add_argument("inputs", nargs="*", default=["-"], metavar="FILE")
    sh.add_argument("--follow", action="store_true", help="keep reading as the files grow and rotate")
    sh.add_argument("--offsets", metavar="FILE", help="file that remembers acknowledged positions")
    _config_arg(sh)
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
    c.set_defaults(func=_config_check)
    v = csub.add_parser(
        "show",
        help="print the effective config",
        description="Print the effective config (file + LOGSCRUB_* overrides + defaults) as YAML, "
        "secrets masked. The output is itself a valid config file.",
    )
    _config_arg(v)
    v.set_defaults(func=_config_show)
    security_cli.add_commands(sub, _config_arg)
    return p


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults + LOGSCRUB_* env)")


def _worker(args: argparse.Namespace) -> int:
    from logscrub.run import worker

    return worker.run(load(args.config), args.log_level)


def _ship(args: argparse.Namespace) -> int:
    import signal
    import threading

    from logscrub.ops import logsetup as logs
    from logscrub.run.ship import ship

    cfg = load(args.config)
    logs.setup_logging(cfg.logging.level, cfg.logging.json)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stats = ship(cfg, args.inputs, follow=args.follow, offsets_path=args.offsets, stop=stop)
    print(f"lines read: {stats.lines_read}  sent: {stats.lines_sent}  retries: {stats.retries}", file=sys.stderr)
    return 0 if stats.lines_sent == stats.lines_read else EXIT_FAILED


def _topics(args: argparse.Namespace) -> int:
    from logscrub.kafka import topics

    cfg = load(args.config)
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
        "shippers, analysts (analytics topics only) and responders (the security topics). Printed as a table; "
        "--apply creates the missing ones (as a principal allowed to ALTER the cluster).",
    )
    a.add_argument("--apply", action="store_true", help="create the ACLs the cluster lacks")
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
    if not args.apply:
        print(acl.render_table(grants), end="")
        return 0
    with topics.admin_client(cfg.kafka) as admin:
        for line in acl.apply_acls(cfg.kafka, admin, grants):
            print(line)
    return 0


def _config_check(args: argparse.Namespace) -> int:
    load(args.file)
    print("ok")
    return 0


def _config_show(args: argparse.Namespace) -> int:
    print(render(load(args.config)), end="")
    return 0


def _scrub(args: argparse.Namespace) -> int:
    from logscrub.run.scrub_files import scrub

    env = None
    if args.format:
        import os

        env = {**os.environ, "LOGSCRUB_INPUT__FORMAT": args.format}
    cfg = load(args.config, env)
    summary = scrub(cfg, args.inputs, args.out)
    print(summary.render())
    return 0 if summary.accounted else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as e:
        print(f"logscrub: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except Refused as e:
        print(f"logscrub: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except FileNotFoundError as e:
        print(f"logscrub: no such file: {e.filename}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
