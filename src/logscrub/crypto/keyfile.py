"""The keys of ``logscrub scrub`` and of the responders who read its output: one file, never beside
the outputs it opens.

The file (``--keys``; by default ``$XDG_STATE_HOME/logscrub/keys.json``, else
``~/.local/state/logscrub/keys.json``) is mode 0600 in a directory of mode 0700. It holds one JSON
object per line: a visitor or data key (``ring``), a subject key wrapped under its data key
(``subject``), or an erasure marker (``erased``). New keys are appended; whatever is destroyed (a key
whose life is over with everything it opens, a visitor key whose period is over, an erased subject's
keys) is removed by rewriting the file atomically. Every change locks the file itself, so no lock
file is left behind; a writer that finds the file replaced while it waited locks the new one.
"""

from __future__ import annotations

import base64
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from logscrub.crypto.keyring import Key
from logscrub.errors import Refused

FILE_NAME = "keys.json"


class KeyFileError(Refused):
    """A keys file that may not be used as it is (where it lies, who may read it, its contents)."""


def default_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/logscrub/keys.json``, else ``~/.local/state/logscrub/keys.json``."""
    env = os.environ if env is None else env
    state = env.get("XDG_STATE_HOME", "")
    if not os.path.isabs(state):  # the XDG spec: a relative value is invalid and ignored
        home = env.get("HOME") or str(Path.home())
        state = os.path.join(home, ".local", "state")
    return Path(state) / "logscrub" / FILE_NAME


def audit_path(keys: Path) -> Path:
    """The offline audit trail, beside its keys file: ``keys.json`` -> ``keys.audit.jsonl``."""
    return keys.with_name(f"{keys.stem}.audit.jsonl")


def check_apart(keys: Path, outputs: Path) -> None:
    """Refuse a keys file inside the output folder, an output folder inside the keys' directory, and
    an output folder that still holds an older logscrub's ``keys.json``."""
    k, o = keys.expanduser().resolve(), outputs.expanduser().resolve()
    if k.is_relative_to(o):
        raise KeyFileError(
            f"the keys file {keys} is inside {outputs}: keys must never sit with the outputs they open; "
            "choose --keys elsewhere"
        )
    if o.is_relative_to(k.parent):
        raise KeyFileError(
            f"{outputs} is inside {k.parent}, the directory of the keys file: keep outputs out of it"
        )
    stale = o / FILE_NAME
    if stale.exists():
        raise KeyFileError(
            f"{stale} holds keys an earlier logscrub kept beside its outputs: delete it, or move it away "
            f"from {outputs}, before using {outputs}"
        )


@dataclass
class KeyState:
    """What a keys file holds, as read."""

    keys: dict[str, dict[str, Key]] = field(default_factory=dict)  # ring -> kid -> key, in file order
    period_ends: dict[str, float] = field(default_factory=dict)  # kid -> its period's end, for keys kept that long
    subjects: dict[str, dict[str, bytes]] = field(default_factory=dict)  # data kid -> skid -> wrapped key
    erased: dict[tuple[str, str], float] = field(default_factory=dict)  # (data kid, subject id) -> when
    torn: bool = False  # the last line was cut short (an append interrupted): dropped at the next rewrite

    def live(self, ring: str, now: float) -> list[Key]:
        return [k for k in self.keys.get(ring, {}).values() if k.expires > now]

    def key(self, ring: str, kid: str, now: float) -> Key | None:
        """A live key by id; None once its life is over, whether or not the file still holds it."""
        key = self.keys.get(ring, {}).get(kid)
        return key if key is not None and key.expires > now else None


class KeyFile:
    """A keys file as a ``KeyStore`` for the key rings, and as the responders' offline key store.

    ``past_not_kept`` maps ring names to their rotation: a key of such a ring is stored with the end of
    its period and removed from disk then, or not stored at all when its period is already over
    (offline visitor keys serve the run that made them once their day is over).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        outputs: Path | None = None,
        past_not_kept: Mapping[str, int] | None = None,
        create: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Checks where the file lies and who may read it (``KeyFileError``); with ``create``, makes its
        directory (0700) if missing. ``outputs``: the folder whose records these keys open."""
        self.path = Path(path).expanduser()
        self.clock = clock
        self._past = dict(past_not_kept or {})
        if outputs is not None:
            check_apart(self.path, outputs)
        self._check(create)

    # -- KeyStore -----------------------------------------------------------------------------

    def load(self, ring: str) -> list[Key]:
        try:
            with open(self.path, "rb") as f:
                state = _parse(f.read(), self.path, keys_only=True)
        except FileNotFoundError:
            return []
        return state.live(ring, self.clock())

    def claim(self, ring: str, candidate: Key) -> Key:
        """The file's key for the candidate's period, else the candidate, stored unless its period is
        already over in a ring whose past is not kept."""
        with self._locked() as fd:
            now = self.clock()
            for key in _parse(_read_fd(fd), self.path, keys_only=True).live(ring, now):
                if key.period == candidate.period:
                    return key
            ends = self._period_end(ring, candidate.period)
            if ends is None or ends > now:
                self._append(fd, _line({"ring": ring, **_key_fields(candidate, ends)}))
            return candidate

    def forget(self, ring: str, dead: list[Key]) -> None:
        """Remove these keys (and whatever else is dead by now) from the file."""
        gone = {k.kid for k in dead}
        self._rewrite(lambda state: _drop_keys(state, ring, gone))

    # -- subject keys and erasure -------------------------------------------------------------

    def add_subjects(self, records: list[tuple[str, bytes]]) -> None:
        """Store new subject keys: ``SubjectKeys.take_pending()``, before the lines sealed under them."""
        if not records:
            return
        lines = []
        for record_key, wrapped in records:
            _, data_kid, skid = record_key.split("/", 2)
            lines.append(_line({"subject": data_kid, "skid": skid, "wrapped": _b64(wrapped)}))
        with self._locked() as fd:
            self._append(fd, b"".join(lines))

    def erase(self, doomed: Mapping[tuple[str, str], list[str]], at: float) -> None:
        """Destroy these subject keys ((data kid, subject id) -> key ids) and file an erasure marker
        for each (data kid, subject id) that had any."""

        def change(state: KeyState) -> None:
            for (data_kid, sid), skids in doomed.items():
                held = state.subjects.get(data_kid, {})
                if any(held.pop(skid, None) is not None for skid in list(skids)):
                    state.erased[(data_kid, sid)] = at

        self._rewrite(change)

    # -- reading and housekeeping -------------------------------------------------------------

    def read(self) -> KeyState:
        """The file as it is now (nothing when it does not exist)."""
        try:
            with open(self.path, "rb") as f:
                return _parse(f.read(), self.path)
        except FileNotFoundError:
            return KeyState()

    def expire(self) -> int:
        """Remove every key whose life is over (with the subject keys and erasure markers of its
        period) and every key stored only until its period's end, once that is past; returns how many
        keys and subject keys left the file."""
        if not self.path.exists():
            return 0
        return self._rewrite(lambda _state: None)

    # -- internals ----------------------------------------------------------------------------

    def _period_end(self, ring: str, period: int) -> float | None:
        """When a key of ``period`` leaves the file because its period is over; None: when it dies."""
        rotation = self._past.get(ring)
        return None if rotation is None else float((period + 1) * rotation)

    def _prune(self, state: KeyState, now: float) -> None:
        for keys in state.keys.values():
            for kid, key in list(keys.items()):
                if key.expires <= now or state.period_ends.get(kid, now + 1) <= now:
                    del keys[kid]
                    state.period_ends.pop(kid, None)
        live_data = state.keys.get("data", {})
        for data_kid in [kid for kid in state.subjects if kid not in live_data]:
            del state.subjects[data_kid]
        for marker in [m for m in state.erased if m[0] not in live_data]:
            del state.erased[marker]

    def _append(self, fd: int, lines: bytes) -> None:
        """Add ``lines`` to the locked file ``fd``."""
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":  # an append was cut short: drop its fragment
            data = _read_fd(fd)
            self._replace(data[: data.rfind(b"\n") + 1] + lines)
        else:
            os.write(fd, lines)  # O_APPEND: at the end, in one write

    def _rewrite(self, change: Callable[[KeyState], None]) -> int:
        """Apply ``change`` and prune under the lock; rewrite atomically if anything changed. Returns the
        number of keys and subject keys removed."""
        with self._locked() as fd:
            state = _parse(_read_fd(fd), self.path)
            before, count = _dump(state), _count(state)
            change(state)
            self._prune(state, self.clock())
            after = _dump(state)
            stale = self._temporaries()
            if after != before or state.torn or stale:
                for leftover in stale:  # a rewrite cut short: only a lock holder writes these
                    leftover.unlink(missing_ok=True)
                self._replace(after)
            return count - _count(state)

    def _temporaries(self) -> list[Path]:
        return [p for p in self.path.parent.glob(f".{self.path.name}.*.tmp") if p.is_file()]

    def _replace(self, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """An exclusive lock on the keys file itself: a descriptor of the current file, for reading
        and appending. A file replaced while we waited is locked again under its new inode."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                mine = os.fstat(fd)
                try:
                    now = os.stat(self.path)
                except FileNotFoundError:
                    now = None
            except BaseException:
                os.close(fd)
                raise
            if now is not None and (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev):
                break
            os.close(fd)  # replaced (or removed) while we waited
        try:
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def _check(self, create: bool) -> None:
        folder = self.path.parent
        if not folder.exists():
            if not create:
                raise KeyFileError(f"no keys file {self.path} (run `logscrub scrub`, or give --keys)")
            folder.mkdir(parents=True, mode=0o700)
            os.chmod(folder, 0o700)
        mode = os.stat(folder).st_mode
        if not stat.S_ISDIR(mode):
            raise KeyFileError(f"{folder} is not a directory (it should hold the keys file {self.path.name})")
        if mode & 0o077:
            raise KeyFileError(
                f"the keys directory {folder} is open to other users (mode {stat.S_IMODE(mode):04o}): "
                f"chmod 700 {folder}, or keep --keys in a directory of its own"
            )
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            if not create:
                raise KeyFileError(f"no keys file {self.path} (run `logscrub scrub`, or give --keys)") from None
            return
        if not stat.S_ISREG(mode):
            raise KeyFileError(f"the keys file {self.path} is not a regular file")
        if mode & 0o077:
            raise KeyFileError(
                f"the keys file {self.path} is open to other users (mode {stat.S_IMODE(mode):04o}): "
                f"chmod 600 {self.path}"
            )


def _drop_keys(state: KeyState, ring: str, kids: set[str]) -> None:
    for kid in kids:
        state.keys.get(ring, {}).pop(kid, None)


def _count(state: KeyState) -> int:
    return sum(map(len, state.keys.values())) + sum(map(len, state.subjects.values()))


def _read_fd(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _parse(data: bytes, path: Path, keys_only: bool = False) -> KeyState:
    """The file's contents; ``keys_only``: skip subject keys and erasure markers (a key ring's view)."""
    state = KeyState()
    lines = data.split(b"\n")
    if lines[-1]:  # no newline at the end: an append was interrupted
        state.torn = True
    for n, raw in enumerate(lines[:-1], 1):
        if not raw.strip() or (keys_only and not raw.startswith(b'{"ring"')):
            continue
        try:
            rec = orjson.loads(raw)
            if "ring" in rec:
                key = Key(
                    rec["kid"], int(rec["period"]), base64.b64decode(rec["secret"]), float(rec["created"]),
                    float(rec["expires"]),
                )  # fmt: skip
                state.keys.setdefault(rec["ring"], {}).setdefault(key.kid, key)
                if rec.get("period_ends") is not None:
                    state.period_ends[key.kid] = float(rec["period_ends"])
            elif "subject" in rec:
                state.subjects.setdefault(rec["subject"], {})[rec["skid"]] = base64.b64decode(rec["wrapped"])
            elif "erased" in rec:
                state.erased[(rec["erased"], rec["sid"])] = float(rec["at"])
            else:
                raise KeyError("kind")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise KeyFileError(f"the keys file {path} is damaged at line {n}") from None
    return state


def _dump(state: KeyState) -> bytes:
    out = [
        _line({"ring": ring, **_key_fields(key, state.period_ends.get(key.kid))})
        for ring, keys in state.keys.items()
        for key in keys.values()
    ]
    out += [
        _line({"subject": data_kid, "skid": skid, "wrapped": _b64(wrapped)})
        for data_kid, held in state.subjects.items()
        for skid, wrapped in held.items()
    ]
    out += [_line({"erased": data_kid, "sid": sid, "at": at}) for (data_kid, sid), at in state.erased.items()]
    return b"".join(out)


def _key_fields(key: Key, period_ends: float | None) -> dict[str, object]:
    fields: dict[str, object] = {"kid": key.kid, "period": key.period, "secret": _b64(key.secret),
                                 "created": key.created, "expires": key.expires}  # fmt: skip
    if period_ends is not None:
        fields["period_ends"] = period_ends  # removed then, though it lives longer in the run that made it
    return fields


def _line(record: dict[str, object]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
