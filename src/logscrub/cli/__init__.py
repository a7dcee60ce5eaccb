"""The ``logscrub`` command line."""
