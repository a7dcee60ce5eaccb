"""The ceiling: read every line and write it back (stdin -> stdout), binary."""

import sys


def main() -> None:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        out.write(line)


if __name__ == "__main__":
    main()
