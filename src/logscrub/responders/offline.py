"""The responders' commands on ``logscrub scrub``'s output: ``--from DIR`` instead of the cluster.

The records are DIR's ``<security topic>.jsonl`` and ``<rejected topic>.jsonl``; the keys are the
keys file ``scrub`` used (``--keys``); the audit trail is a file beside the keys file. The rules of
search, export and erasure are those of ``responders.commands``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from logscrub.config import Config
from logscrub.crypto.keyfile import KeyFile, KeyState, audit_path, default_path
from logscrub.crypto.keyring import Key
from logscrub.errors import Refused
from logscrub.responders import audit
from logscrub.responders.commands import Doomed, KeyAccess, Source
from logscrub.responders.search import Keys, Raw


def files_source(cfg: Config, folder: str | Path, keys: str | Path | None = None) -> Source:
    """``scrub``'s output in ``folder``, opened with the keys file ``keys`` (default: ``scrub``'s)."""
    folder = Path(folder)
    names = [cfg.topics.security.name, cfg.topics.rejected.name]
    files = [folder / f"{name}.jsonl" for name in names]
    if not any(f.is_file() for f in files):
        expected = " or ".join(f.name for f in files)
        raise Refused(f"{folder} holds no {expected}: not an output folder of `logscrub scrub`")
    keyfile = KeyFile(keys or default_path(), outputs=folder, create=False)

    def records() -> Iterator[Raw]:
        for name, path in zip(names, files, strict=True):
            if not path.is_file():
                continue
            with open(path, "rb") as f:
                for n, line in enumerate(f, 1):
                    if line.strip():
                        yield Raw(name, None, n, line)

    @contextmanager
    def opened() -> Iterator[KeyAccess]:
        yield _FileKeys(keyfile)

    trail = audit_path(keyfile.path)

    def record(command: str, details: dict[str, Any]) -> dict[str, Any]:
        return audit.record_to_file(trail, command, {**details, "from": str(folder.resolve())})

    return Source(records, opened, record)


class _FileKeys:
    """The keys file, read once (after removing what died)."""

    def __init__(self, keyfile: KeyFile) -> None:
        self.keyfile = keyfile
        keyfile.expire()  # whatever died is removed from disk whenever the file is used
        self.state: KeyState = keyfile.read()

    def opening(self) -> Keys:
        state, clock = self.state, self.keyfile.clock
        return Keys(lambda kid: state.key("data", kid, clock()), state.subjects, state.erased)

    def live_data(self) -> list[Key]:
        return self.state.live("data", self.keyfile.clock())

    def destroy(self, doomed: Doomed, at: float) -> None:
        self.keyfile.erase(doomed, at)
