"""`make bench`: logscrub against its baselines, measured in one run."""
