"""How every command fails: one line on stderr and an exit status, never a traceback for a user's mistake.

Exit statuses: 0 done; 1 the work failed (an input that cannot be read, a file that cannot be
written, a check that found problems); 2 refused before starting (config, usage, a Kafka cluster
that cannot be reached or refuses us); 130 interrupted (Ctrl-C); 141 the reader of our output
went away (``| head``): as for any program killed by SIGPIPE, so ``set -o pipefail`` scripts see
that the output was cut short, and nothing is printed.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from logscrub.config import ConfigError, KafkaConfig
from logscrub.errors import Refused
from logscrub.files.read import STDIN, InputError
from logscrub.privacy.geo import GeoDatabaseError

EXIT_STATUSES = (
    "Exit status: 0 done; 1 the work failed (an input or output that cannot be read or written, a check "
    "that found problems); 2 refused before starting (config, usage, a Kafka cluster that cannot be "
    "reached or refuses us); 130 interrupted; 141 the reader of the output went away (| head), as for "
    "any program ended by SIGPIPE. Every failure is one line on stderr."
)
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
EXIT_PIPE = 128 + 13  # SIGPIPE
PROBE_TIMEOUT_S = 5.0
# Loggers of the Kafka clients: they log every failed connection attempt (~50 lines before a
# bootstrap gives up); the command says what failed in one line of its own.
CLIENT_LOGGERS = ("kafka", "aiokafka")


class UsageError(Refused):
    """Arguments that cannot work together, or a missing input."""


class Unreachable(Refused):
    """No bootstrap server accepts a connection."""


class Stopped(Exception):
    """SIGTERM: stop reading, write out what was read, exit 0."""


def stop_on_signal(signum: int, frame: Any) -> NoReturn:
    raise Stopped()


def quiet_client_libraries(level: str | None = None) -> None:
    """Keep the Kafka clients' own logging off stderr unless asked for (``--log-level DEBUG|INFO``).

    Set before any client exists, so not even a failed bootstrap prints before logscrub's own line.
    """
    loud = level is not None and level.upper() in ("DEBUG", "INFO")
    for name in CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if loud else logging.CRITICAL + 1)


@contextmanager
def client_libraries_quiet() -> Iterator[None]:
    """``quiet_client_libraries`` for one command; the levels before it are restored after it (a
    command run in-process, as tests do, leaves no trace on the process's logging)."""
    before = {name: logging.getLogger(name).level for name in CLIENT_LOGGERS}
    quiet_client_libraries()
    try:
        yield
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)


def require_broker(k: KafkaConfig, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Refuse at once, naming the bootstrap servers, when none of them accepts a TCP connection.

    The clients would retry for 10 to 30 seconds first; this says the same in a second or less.
    A server that accepts is left to the clients (a login or TLS problem is theirs to report).
    """
    servers = [s.strip() for s in k.bootstrap_servers.split(",") if s.strip()]
    reasons = []
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return
        except socket.gaierror:
            reasons.append(f"{host}: unknown host")
        except TimeoutError:
            reasons.append(f"{server}: no answer within {timeout:g}s")
        except OSError as e:
            reasons.append(f"{server}: {(e.strerror or type(e).__name__).lower()}")
    raise Unreachable(
        f"no Kafka broker answered at {k.bootstrap_servers} (kafka.bootstrap_servers): {'; '.join(reasons)}"
    )


def stdin_inputs(names: list[str]) -> list[str]:
    """The inputs, or stdin when none is given; a terminal on stdin is refused unless '-' asks for it."""
    if names:
        if STDIN in names and _is_terminal(sys.stdin):
            print("logscrub: reading log lines from the terminal; end with Ctrl-D", file=sys.stderr)
        return names
    if _is_terminal(sys.stdin):
        raise UsageError(
            "no input: give log files, or pipe a log in (zcat access.log.gz | logscrub ...); "
            "'-' reads lines typed on the terminal"
        )
    return [STDIN]


def check_inputs(names: list[str], may_appear: bool = False) -> list[str]:
    """Fail before any output is made when an input is a directory, or is missing (unless
    ``may_appear``: a followed file may be created later, as with tail -F)."""
    for name in names:
        if name == STDIN:
            continue
        if os.path.isdir(name):
            raise InputError(f"{name} is a directory, not a log file (give the files in it, e.g. {name}/*.log)")
        if not may_appear and not os.path.exists(name):
            raise InputError(f"no such file: {name}")
    return names


def out_directory(path: str) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"--out {path} exists and is not a directory (scrub writes one file per topic into it)")


def out_file(path: str | None) -> None:
    if path is not None and os.path.isdir(path):
        raise UsageError(f"--out {path} is a directory; mask appends to one file")
    if path is not None and not Path(path).parent.is_dir():
        raise UsageError(f"--out {path}: no directory {Path(path).parent}")


def stdout_is_file() -> bool:
    """Whether stdout is redirected to a file (not a terminal, not a pipe)."""
    try:
        return stat.S_ISREG(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return False


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _fail(message: str, status: int) -> int:
    print(f"logscrub: {message}", file=sys.stderr)
    return status


def _stdout_broken() -> bool:
    """Whether stdout is what broke (its reader has gone), not some connection; if so, point it at
    /dev/null so that the interpreter's last flush does not fail again and print a warning."""
    try:
        fd = sys.stdout.fileno()
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        broken = any(events & select.POLLERR for _, events in poll.poll(0))  # a pipe without readers
    except (OSError, ValueError, AttributeError):
        return False
    if broken:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    return broken


def run(func: Callable[[Any], int], args: Any) -> int:
    """Run a command; every failure a user can cause becomes one line and an exit status."""
    try:
        status = int(func(args))
        sys.stdout.flush()  # here, where a reader that went away is handled, not at exit
        return status
    except (ConfigError, Refused, GeoDatabaseError) as e:
        return _fail(str(e), EXIT_CONFIG)
    except InputError as e:
        return _fail(str(e), EXIT_FAILED)
    except BrokenPipeError:
        if _stdout_broken():
            return EXIT_PIPE
        return _fail("a connection was closed while writing (broken pipe)", EXIT_FAILED)
    except FileNotFoundError as e:
        return _fail(f"no such file: {e.filename}", EXIT_FAILED)
    except IsADirectoryError as e:
        return _fail(f"{e.filename or 'an input'} is a directory, not a file", EXIT_FAILED)
    except OSError as e:
        where = f": {e.filename}" if e.filename else ""
        return _fail(f"{(e.strerror or type(e).__name__).lower()}{where}", EXIT_FAILED)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
