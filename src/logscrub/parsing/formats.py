"""One entry point from a configured format name to a parser."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from logscrub.parsing.clf import parse_combined, parse_common, parse_common_alone, parse_vhost_combined
from logscrub.parsing.jsonlines import make_json_parser
from logscrub.parsing.nginx_format import compile_log_format
from logscrub.parsing.record import ParseError, Request

__all__ = ["FORMATS", "INPUT_FORMATS", "REASONS", "REJECT_REASONS", "Parser", "make_parser"]

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
INPUT_FORMATS = ("auto", *FORMATS)  # what input.format takes: auto reads each line by its own shape
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
    """The parser for ``format``; every driver (files, Kafka worker, responders) gets its parser here.

    ``auto`` reads each line by its own shape (``per_line_auto``), so a file and a stream give the same
    answer for the same line whatever lines surround it. Raises ValueError (at start-up, not on every
    line) for an unknown format or a bad ``nginx_log_format``/``json_fields``; each option is ignored
    by the other formats.
    """
    if format == "auto":
        return per_line_auto(make_json_parser(json_fields))
    if format not in FORMATS:
        raise ValueError(f"unknown log format {format!r}: expected one of {', '.join(FORMATS)}")
    if format == "nginx":
        if not nginx_log_format:
            raise ValueError("format 'nginx' needs nginx_log_format (the log_format directive or its format string)")
        return compile_log_format(nginx_log_format)
    if format == "json":
        return make_json_parser(json_fields)
    return _CLF[format]


# The text formats ``auto`` knows, in the order that decides which rejection reason a line gets. Their
# shapes exclude each other: a line starting with "{" is JSON; combined and common have three fields
# before the time, vhost_combined four; combined has quoted fields after the size, common (as auto
# reads it) none. So at most one format accepts a line, and the order of trying changes nothing else.
_AUTO_TEXT: tuple[Parser, ...] = (parse_combined, parse_vhost_combined, parse_common_alone)


def per_line_auto(parse_json: Parser) -> Parser:
    """``auto``: each line by the one format whose shape it has.

    A rejected line's reason is the first, in ``_AUTO_TEXT`` order, that is not ``no_match`` (the line
    has that format's shape, one field is wrong), else ``no_match``. The format that read the last line
    is tried first: logs rarely change format from one line to the next.
    """
    last = [0]
    formats = range(len(_AUTO_TEXT))

    def parse(line: str) -> Request:
        if line[:1] == "{":
            return parse_json(line)
        try:
            return _AUTO_TEXT[last[0]](line)
        except ParseError:
            pass
        errors: list[ParseError] = []
        for i in formats:
            try:
                req = _AUTO_TEXT[i](line)
            except ParseError as e:
                errors.append(e)
                continue
            last[0] = i
            return req
        for e in errors:
            if e.reason != "no_match":
                raise e
        raise ParseError("no_match", "line is in none of the formats auto reads")

    return parse
