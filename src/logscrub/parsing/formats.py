"""One entry point from a configured format name to a parser."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from logscrub.parsing.clf import parse_combined, parse_common, parse_vhost_combined
from logscrub.parsing.detect import detect_format
from logscrub.parsing.jsonlines import make_json_parser
from logscrub.parsing.nginx_format import compile_log_format
from logscrub.parsing.record import ParseError, Request

__all__ = ["FORMATS", "INPUT_FORMATS", "REASONS", "REJECT_REASONS", "Parser", "detect_format", "make_parser"]

Parser = Callable[[str], Request]

# Every ParseError.reason a parser raises: a closed set, so it is safe as a metric label.
REASONS = (
    "no_match",  # the line does not have the format's shape
    "bad_time",  # the time does not parse, or has no zone
    "bad_status",  # the status is not a 3-digit code in 100-599
    "bad_field",  # a byte count or duration that is not a number
    "bad_json",  # not JSON, or not a JSON object
    "missing_field",  # JSON without a time
)
# Every reason a line is rejected for: the parsers' own, and the two decided before parsing.
TOO_LONG = "too_long"  # longer than input.max_line_bytes
EMPTY = "empty"  # nothing but whitespace
REJECT_REASONS = (*REASONS, TOO_LONG, EMPTY)
FORMATS = ("common", "combined", "vhost_combined", "json", "nginx")
INPUT_FORMATS = ("auto", *FORMATS)  # what input.format takes: auto detects (files) or tries each (streams)
_CLF: dict[str, Parser] = {
    "common": parse_common,
    "combined": parse_combined,
    "vhost_combined": parse_vhost_combined,
}


def make_parser(
    format: str,
    *,
    nginx_log_format: str | None = None,
    json_fields: Mapping[str, str] | None = None,
) -> Parser:
    """The parser for ``format``.

    ``auto`` tries each format per line: for a stream whose sources differ (one topic fed by
    Apache and nginx hosts). A file driver should resolve ``auto`` once with ``detect_format``.
    Raises ValueError (at start-up, not on every line) for an unknown format or a bad
    ``nginx_log_format``/``json_fields``; each option is ignored by the other formats.
    """
    if format == "auto":
        return _per_line_auto(make_json_parser(json_fields))
    if format not in FORMATS:
        raise ValueError(f"unknown log format {format!r}: expected one of {', '.join(FORMATS)}")
    if format == "nginx":
        if not nginx_log_format:
            raise ValueError("format 'nginx' needs nginx_log_format (the log_format directive or its format string)")
        return compile_log_format(nginx_log_format)
    if format == "json":
        return make_json_parser(json_fields)
    return _CLF[format]


def _per_line_auto(parse_json: Parser) -> Parser:
    text_parsers = (parse_combined, parse_vhost_combined, parse_common)

    def parse(line: str) -> Request:
        if line[:1] == "{":
            return parse_json(line)
        first: ParseError | None = None
        for p in text_parsers:
            try:
                return p(line)
            except ParseError as e:
                first = first or e
        assert first is not None
        raise first

    return parse
