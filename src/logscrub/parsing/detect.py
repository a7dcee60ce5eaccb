"""Guess the format of a log from its first lines: ``mask`` writes its output in one format.

The analytics drivers never guess: with ``auto`` they read each line by its own shape.
"""

from __future__ import annotations

from collections.abc import Callable

from logscrub.parsing.clf import parse_combined, parse_common, parse_vhost_combined
from logscrub.parsing.jsonlines import make_json_parser
from logscrub.parsing.record import ParseError, Request

SAMPLE_LINES = 50
# Richest first: on a tie the format that reads more fields wins (combined lines also parse as common).
_CANDIDATES: tuple[tuple[str, Callable[[str], Request]], ...] = (
    ("vhost_combined", parse_vhost_combined),
    ("combined", parse_combined),
    ("json", make_json_parser()),
    ("common", parse_common),
)


def _parses(parse: Callable[[str], Request], line: str) -> bool:
    try:
        parse(line)
    except ParseError:
        return False
    return True


def detect_format(lines: list[str]) -> str:
    """The format that parses most of the first non-empty lines; ``combined`` if none does."""
    sample = [line for line in lines if line.strip()][:SAMPLE_LINES]
    best, best_count = "combined", 0
    for name, parse in _CANDIDATES:
        count = sum(_parses(parse, line) for line in sample)
        if count > best_count:
            best, best_count = name, count
    return best
