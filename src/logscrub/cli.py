"""The ``logscrub`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from logscrub import __version__
from logscrub.config import FORMATS, ConfigError, load
from logscrub.errors import Refused

EXIT_CONFIG = 2
EXIT_FAILED = 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="logscrub",
        description="Anonymize web-server access logs: analytics without personal data, "
        "raw lines encrypted for a short security window.",
    )
    p.add_argument("--version", action="version", version=f"logscrub {__version__}")
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
    s.add_argument("--format", choices=FORMATS, help="input format (overrides input.format)")
    s.set_defaults(func=_scrub)

    w = sub.add_parser(
        "worker",
        help="run a Kafka worker",
        description="Consume logs.raw and write the analytics, security and rejected topics. Refuses to "
        "start when a raw-zone topic keeps data longer than security.window. Scale by starting more "
        "workers (up to the number of logs.raw partitions).",
    )
    _config_arg(w)
    w.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
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
    return p


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults + LOGSCRUB_* env)")


def _worker(args: argparse.Namespace) -> int:
    from logscrub.kafka import topics, worker

    cfg = load(args.config)
    with topics.admin_client(cfg) as admin:
        topics.assert_raw_zone_safe(cfg, admin)
    return worker.run(cfg, args.log_level)


def _ship(args: argparse.Namespace) -> int:
    import signal
    import threading

    from logscrub.kafka.shipper import ship

    cfg = load(args.config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stats = ship(cfg, args.inputs, follow=args.follow, offsets_path=args.offsets, stop=stop)
    print(f"lines read: {stats.lines_read}  sent: {stats.lines_sent}  retries: {stats.retries}", file=sys.stderr)
    return 0 if stats.lines_sent == stats.lines_read else EXIT_FAILED


def _topics(args: argparse.Namespace) -> int:
    from logscrub.kafka import topics

    cfg = load(args.config)
    with topics.admin_client(cfg) as admin:
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


def _scrub(args: argparse.Namespace) -> int:
    from logscrub.local import scrub

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
