"""The floor: one compiled regex for the combined format and orjson, nothing else (stdin -> stdout)."""

import re
import sys

import orjson

COMBINED = re.compile(
    rb'(?P<client>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\S+)'
    rb' "(?P<referrer>[^"]*)" "(?P<ua>[^"]*)"'
)


def main() -> None:
    out = sys.stdout.buffer
    match = COMBINED.match
    for line in sys.stdin.buffer:
        m = match(line)
        if m:
            out.write(orjson.dumps({k: v.decode("utf-8", "replace") for k, v in m.groupdict().items()}) + b"\n")


if __name__ == "__main__":
    main()
