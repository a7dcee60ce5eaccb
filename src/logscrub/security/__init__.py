"""The security zone: shared keys, per-subject keys, responder search and data-subject requests."""
