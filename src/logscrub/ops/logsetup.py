"""Process-wide logging for the long-running commands: plain text or one JSON object per line.

logscrub's own messages name topics, settings, reasons and counts, never a line, an address or a
user agent. The redaction filter below does not make it fine to log such values; it is defense in
depth against a library or an exception message quoting one.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

import orjson

REDACTED = "[redacted]"
# The Kafka clients log record values (raw lines) at DEBUG.
QUIET_LOGGERS = ("aiokafka", "kafka", "faust.transport")
# kafka-python's I/O thread warns whenever it waited over 100 ms for the GIL, which a busy worker
# makes it do all the time: a warning about ourselves that an operator can do nothing with.
NOISY_LOGGERS = ("kafka.net.selector",)

# Starts only where a run of local-part characters starts: else every position of a long run is
# tried again (quadratic: a 64 KiB line took 20 s), with the same matches.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d)")
# Hex groups and colons, optionally ending in a dotted quad (::ffff:192.0.2.1); see _ipv6_or_not.
_IPV6_LIKE = re.compile(r"(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:(?:\.\d{1,3}){3})?(?![\w:])", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with IP addresses, MAC-like strings and email addresses replaced."""
    text = _EMAIL.sub(REDACTED, text)
    text = _IPV6_LIKE.sub(_ipv6_or_not, text)
    return _IPV4.sub(REDACTED, text)


def _ipv6_or_not(m: re.Match[str]) -> str:
    # Two colons and no "::" is a clock time (10:00:01): keep it. IPv6 has "::" or 3+ colons.
    s = m.group()
    return REDACTED if "::" in s or s.count(":") >= 3 or "." in s else s


class RedactFilter(logging.Filter):
    """Rewrites each record's message (and its traceback) with ``redact``; drops nothing."""

    _tracebacks = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that don't fit the format: keep the format only
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._tracebacks.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and exc when any."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exc"] = record.exc_text
        if record.stack_info:
            doc["stack"] = record.stack_info
        return orjson.dumps(doc).decode()


def setup_logging(level: str | int, json: bool) -> None:
    """Replace the root logger's handlers with one redacting stderr handler at ``level``.

    The level is set on the loggers, not only the handler, so debug records are never even built
    (they are slow, and client libraries' debug records quote message values). The Kafka clients
    never go below INFO, whatever ``level`` says.
    """
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    handler = logging.StreamHandler(sys.stderr)
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JsonFormatter() if json else plain)
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.INFO))
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.ERROR))
