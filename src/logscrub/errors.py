"""Refusals the CLI reports as one clear line instead of a traceback."""


class Refused(RuntimeError):
    """An operation logscrub will not do as configured; the message says why and names the thing.

    Messages never carry record contents (raw lines are personal data).
    """
