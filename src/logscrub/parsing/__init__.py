"""Parsers: access-log lines in, ``Request`` out."""
