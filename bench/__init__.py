"""`make bench`, `make bench-rss`, `make soak`: logscrub against its baselines, measured in one run."""

import os


def env_int(name: str, default: int) -> int:
    """A size from the environment: `make` targets take no arguments, but pass variables through."""
    return int(os.environ.get(name, default))
