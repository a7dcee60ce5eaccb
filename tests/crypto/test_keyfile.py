"""The offline keys file: where it may lie, who may read it, what it keeps and for how long."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from logscrub.crypto import subjects
from logscrub.crypto.keyfile import KeyFile, KeyFileError, audit_path, default_path
from logscrub.crypto.keyring import KeyRing
from logscrub.crypto.subjects import SubjectKeys

DAY, HOUR = 86400, 3600


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def rings(path: Path, clock: Clock, window: int = 7 * DAY) -> tuple[KeyFile, KeyRing, KeyRing]:
    store = KeyFile(path, past_not_kept={"visitor": DAY}, clock=clock)
    visitor = KeyRing("visitor", DAY, DAY + HOUR, store, clock)
    data = KeyRing("data", HOUR, window, store, clock)
    return store, visitor, data


def test_default_path_is_under_the_users_state_directory():
    home = Path("/home/me/.local/state/logscrub/keys.json")
    assert default_path({"XDG_STATE_HOME": "/var/lib/me", "HOME": "/home/me"}) == Path("/var/lib/me/logscrub/keys.json")
    assert default_path({"HOME": "/home/me"}) == home
    assert default_path({"XDG_STATE_HOME": "state", "HOME": "/home/me"}) == home  # the XDG spec: relative is ignored
    assert audit_path(Path("/s/keys.json")) == Path("/s/keys.audit.jsonl")


def test_the_file_is_0600_in_a_0700_directory_it_makes(tmp_path):
    path = tmp_path / "state" / "logscrub" / "keys.json"
    clock = Clock(100 * DAY)
    _, _, data = rings(path, clock)
    data.current(clock.t)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


@pytest.mark.parametrize("loose", [0o755, 0o750, 0o701])
def test_a_directory_open_to_others_is_refused(tmp_path, loose):
    folder = tmp_path / "keys"
    folder.mkdir()
    os.chmod(folder, loose)
    with pytest.raises(KeyFileError) as e:
        KeyFile(folder / "keys.json")
    assert "is open to other users" in str(e.value) and "chmod 700" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o660])
def test_a_file_readable_by_others_is_refused(tmp_path, loose):
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    path = folder / "keys.json"
    path.write_bytes(b"")
    os.chmod(path, loose)
    with pytest.raises(KeyFileError) as e:
        KeyFile(path)
    assert "chmod 600" in str(e.value) and "\n" not in str(e.value)


def test_keys_are_refused_inside_the_outputs_and_outputs_inside_the_keys_directory(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(KeyFileError, match="inside"):
        KeyFile(out / "keys.json", outputs=out)
    with pytest.raises(KeyFileError, match="inside"):
        KeyFile(out / "deeper" / "keys.json", outputs=out)
    os.symlink(out, tmp_path / "alias")
    with pytest.raises(KeyFileError, match="inside"):
        KeyFile(tmp_path / "alias" / "keys.json", outputs=out)  # the same folder under another name
    keys = tmp_path / "keys" / "keys.json"
    with pytest.raises(KeyFileError, match="inside"):
        KeyFile(keys, outputs=tmp_path / "keys" / "out")
    assert not out.exists()
    KeyFile(keys, outputs=out)  # apart: fine


def test_an_older_logscrubs_keys_in_the_output_folder_are_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keys.json").write_text("{}")
    with pytest.raises(KeyFileError, match="earlier logscrub"):
        KeyFile(tmp_path / "state" / "keys.json", outputs=out)


def test_without_create_a_missing_file_is_refused_and_nothing_is_made(tmp_path):
    path = tmp_path / "none" / "keys.json"
    with pytest.raises(KeyFileError, match="no keys file"):
        KeyFile(path, create=False)
    assert not path.parent.exists()


def test_dead_keys_leave_the_disk_with_their_subject_keys_and_erasure_markers(tmp_path):
    path = tmp_path / "s" / "keys.json"
    clock = Clock(1000 * HOUR)
    store, _, data = rings(path, clock, window=3 * HOUR)
    key = data.current(clock.t)
    keys = SubjectKeys()
    keys.for_subject(key, b"\xc0\x00\x02\x01")
    keys.for_subject(key, b"\xc0\x00\x02\x02")
    pending = keys.take_pending()
    store.add_subjects(pending)
    sid = subjects.subject_id(key, b"\xc0\x00\x02\x01")
    store.erase({(key.kid, sid): [pending[0][0].rsplit("/", 1)[1]]}, clock.t)
    text = path.read_text()
    assert key.kid in text and sid in text and "subject" in text

    clock.t += 3 * HOUR - 1
    assert store.expire() == 0
    clock.t += 1  # the window is over
    assert store.expire() == 2  # the data key and the subject key left standing
    assert path.read_bytes() == b""
    assert data.get(key.kid) is None


def test_a_ring_forgetting_a_key_rewrites_the_file_without_it(tmp_path):
    path = tmp_path / "s" / "keys.json"
    clock = Clock(1000 * HOUR)
    store, _, data = rings(path, clock, window=HOUR)
    first = data.current(clock.t)
    clock.t += HOUR
    second = data.current(clock.t)
    assert data.expire() == [first.kid]
    text = path.read_text()
    assert first.kid not in text and second.kid in text
    assert [k.kid for k in store.load("data")] == [second.kid]


def test_visitor_keys_of_days_over_are_never_stored_and_todays_leave_when_the_day_ends(tmp_path):
    path = tmp_path / "s" / "keys.json"
    clock = Clock(100 * DAY + 5 * HOUR)
    store, visitor, _ = rings(path, clock)
    old = visitor.current(90 * DAY)  # a scrub of last week's log: the key serves this run only
    today = visitor.current(clock.t)
    assert visitor.current(90 * DAY + 1) is old  # still the same key within the run
    text = path.read_text()
    assert old.kid not in text and today.kid in text
    assert [k.kid for k in store.load("visitor")] == [today.kid]

    clock.t = 101 * DAY  # the day is over: its key still lives an hour in a running worker, not on disk
    assert today.expires > clock.t
    store.expire()
    assert today.kid not in path.read_text()


def test_another_run_on_the_same_day_hashes_with_the_same_visitor_key(tmp_path):
    path = tmp_path / "s" / "keys.json"
    clock = Clock(100 * DAY + 5 * HOUR)
    _, a, _ = rings(path, clock)
    _, b, _ = rings(path, clock)
    assert a.current(clock.t).secret == b.current(clock.t).secret


def test_no_lock_file_and_no_temporary_file_is_left(tmp_path):
    path = tmp_path / "s" / "keys.json"
    clock = Clock(1000 * HOUR)
    store, visitor, data = rings(path, clock, window=2 * HOUR)
    for hour in range(4):
        clock.t += HOUR
        key = data.current(clock.t)
        visitor.current(clock.t)
        keys = SubjectKeys()
        keys.for_subject(key, b"\x01\x02\x03\x04")
        store.add_subjects(keys.take_pending())
        data.expire()
        store.expire()
    assert sorted(p.name for p in path.parent.iterdir()) == ["keys.json"]


def test_a_torn_last_line_is_dropped_and_a_damaged_line_refused(tmp_path):
    path = tmp_path / "s" / "keys.json"
    clock = Clock(1000 * HOUR)
    store, _, data = rings(path, clock)
    key = data.current(clock.t)
    with open(path, "ab") as f:
        f.write(b'{"subject": "data-x", "sk')  # an append cut short
    assert [k.kid for k in store.load("data")] == [key.kid]
    keys = SubjectKeys()
    keys.for_subject(key, b"\x01\x02\x03\x04")
    store.add_subjects(keys.take_pending())  # repairs the file as it appends
    assert len(store.read().subjects[key.kid]) == 1 and path.read_bytes().endswith(b"\n")

    path.write_bytes(b"not json\n" + path.read_bytes())
    with pytest.raises(KeyFileError, match="damaged at line 1"):
        store.read()


def _hammer(path: str, start: float, worker: int, rounds: int) -> None:
    clock = Clock(start)
    store = KeyFile(path, clock=clock)
    data = KeyRing("data", HOUR, 3 * HOUR, store, clock)
    for i in range(rounds):
        key = data.current(clock.t)
        keys = SubjectKeys()
        packed = bytes([worker, i >> 8, i & 255, 1])
        keys.for_subject(key, packed)
        ((record, _),) = pending = keys.take_pending()
        store.add_subjects(pending)
        if i % 5 == 0:  # an erasure rewrites the file, racing the other processes' appends
            store.erase({(key.kid, subjects.subject_id(key, packed)): [record.rsplit("/", 1)[1]]}, clock.t)
    os._exit(0)


def test_processes_sharing_the_file_lose_nothing_and_agree_on_keys(tmp_path):
    """Appends and atomic rewrites from several processes at once: the lock follows the file across
    rewrites, so no append lands in a replaced file."""
    path = tmp_path / "s" / "keys.json"
    KeyFile(path)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(str(path), 1000 * HOUR + 10, w, 60)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    state = KeyFile(path, clock=Clock(1000 * HOUR + 10)).read()
    assert len(state.keys["data"]) == 1  # every process used the first key of the period
    (held,) = state.subjects.values()
    assert len(held) == 4 * (60 - 12) and len(state.erased) == 4 * 12
    assert sorted(p.name for p in path.parent.iterdir()) == ["keys.json"]
