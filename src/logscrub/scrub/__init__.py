"""The pure per-line core: a line in, its outcome out; the routing rule; traffic aggregates; wiring from config."""
