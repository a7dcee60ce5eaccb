"""The parsed form of one access-log line.

A ``Request`` still holds personal data (full IP, user agent, query string,
user name): it never leaves the core. Only ``privacy`` turns it into fields
that may be published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class ParseError(ValueError):
    """A line that is not in the expected format.

    ``reason`` is a short, fixed code (safe as a metric label and on the
    rejected topic); ``detail`` is for humans and must never quote the line.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Request:
    client: str | None  # peer address as logged: may carry a port, brackets, a zone id or garbage
    time: datetime  # timezone-aware
    method: str | None = None
    target: str | None = None  # request target: origin-form path?query, or an absolute URL
    protocol: str | None = None
    status: int | None = None
    bytes: int = 0
    referrer: str | None = None
    user_agent: str | None = None
    user: str | None = None  # remote user / auth user
    host: str | None = None  # virtual host or server name
    forwarded_for: str | None = None  # X-Forwarded-For chain as logged
    duration: float | None = None  # request time in seconds, when logged
