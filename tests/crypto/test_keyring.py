import os
import stat

import pytest

from logscrub.crypto import envelope
from logscrub.crypto.keyfile import KeyFile
from logscrub.crypto.keyring import KeyRing


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_same_period_same_key_next_period_new_key():
    clock = Clock(1_000_000)
    ring = KeyRing("data", rotation=3600, lifetime=7200, clock=clock)
    a = ring.current(clock.t)
    assert ring.current(clock.t + 1) is a
    b = ring.current(clock.t + 3600)
    assert b.kid != a.kid and b.secret != a.secret


def test_data_key_dies_a_window_after_its_period_started():
    start = 3600 * 1000
    clock = Clock(start + 10)
    ring = KeyRing("data", rotation=3600, lifetime=7 * 3600, clock=clock)
    key = ring.current(clock.t)
    clock.t = start + 7 * 3600 - 1
    assert ring.get(key.kid) is key
    clock.t = start + 7 * 3600
    assert ring.get(key.kid) is None
    assert ring.destroyed == 1
    assert key.kid not in [k.kid for k in ring.live()]


def test_key_made_for_a_past_period_is_not_born_dead():
    """Replaying last week's log must not create keys that expire immediately (counts would split)."""
    clock = Clock(86400 * 100 + 5)
    ring = KeyRing("visitor", rotation=86400, lifetime=86400 + 3600, clock=clock)
    old = ring.current(86400 * 90)
    assert ring.current(86400 * 90 + 10) is old
    clock.t += 86400 + 3599 - 5
    assert ring.get(old.kid) is old
    clock.t += 1
    assert ring.get(old.kid) is None


def test_a_key_for_a_line_dated_years_ahead_dies_as_tomorrows_would():
    """Red-team finding: a line dated 2031 kept its visitor key on disk until 2031, past `keys expire`."""
    clock = Clock(86400 * 100 + 5)
    ring = KeyRing("visitor", rotation=86400, lifetime=86400 + 3600, clock=clock)
    tomorrow = ring.current(86400 * 101 + 10)
    far = ring.current(86400 * 2000)
    assert tomorrow.expires == far.expires == 86400 * 101 + 86400 + 3600
    clock.t = far.expires
    assert ring.get(far.kid) is None and ring.get(tomorrow.kid) is None


def test_destroyed_keys_leave_the_file_and_records_become_unreadable(tmp_path):
    path = tmp_path / "keys.json"
    clock = Clock(3600 * 50)
    ring = KeyRing("data", rotation=3600, lifetime=3600, store=KeyFile(path, clock=clock), clock=clock)
    key = ring.current(clock.t)
    env = envelope.seal(b"203.0.113.9 - - secret line", key, clock.t)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert key.kid in path.read_text()

    reloaded = KeyRing("data", rotation=3600, lifetime=3600, store=KeyFile(path, clock=clock), clock=clock)
    assert envelope.open_sealed(env, reloaded.get(env["kid"])) == b"203.0.113.9 - - secret line"

    clock.t += 3600
    assert ring.expire() == [key.kid]
    assert key.kid not in path.read_text()
    later = KeyRing("data", rotation=3600, lifetime=3600, store=KeyFile(path, clock=clock), clock=clock)
    assert later.get(env["kid"]) is None


def test_lifetime_shorter_than_rotation_is_refused():
    with pytest.raises(ValueError):
        KeyRing("data", rotation=3600, lifetime=60)


def test_envelope_hides_the_line_and_detects_tampering():
    ring = KeyRing("data", rotation=3600, lifetime=3600)
    key = ring.current(0)
    line = b'198.51.100.7 - alice [x] "GET /?email=alice@example.com" 200 1'
    env = envelope.seal(line, key, 12.5, reason="no_match")
    blob = repr(env).encode()
    for canary in (b"198.51.100.7", b"alice", b"example.com"):
        assert canary not in blob
    assert envelope.open_sealed(env, key) == line
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_sealed({**env, "reason": "empty"}, key)  # metadata is authenticated
    other = KeyRing("data", rotation=3600, lifetime=3600).current(0)
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_sealed({**env, "kid": other.kid}, other)


def test_two_processes_sharing_a_key_file_agree_on_the_key(tmp_path):
    """Workers on one host must hash visitors with the same key, or distinct counts double."""
    path = tmp_path / "keys.json"
    clock = Clock(86400 * 10 + 5)
    a = KeyRing("visitor", rotation=86400, lifetime=90000, store=KeyFile(path, clock=clock), clock=clock)
    b = KeyRing("visitor", rotation=86400, lifetime=90000, store=KeyFile(path, clock=clock), clock=clock)
    ka = a.current(clock.t)
    kb = b.current(clock.t)
    assert ka.kid == kb.kid and ka.secret == kb.secret
    assert KeyFile(path, clock=clock).load("visitor") == [ka]


def test_every_envelope_gets_its_own_nonce():
    """Nonces come from the OS a batch at a time; none may repeat under a key, batch after batch."""
    key = KeyRing("data", rotation=3600, lifetime=3600).current(0)
    nonces = [envelope.seal(b"line", key, 0.0)["nonce"] for _ in range(3 * 256 + 7)]
    assert len(set(nonces)) == len(nonces)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_reuse_the_parents_pending_nonces():
    key = KeyRing("data", rotation=3600, lifetime=3600).current(0)
    envelope.seal(b"line", key, 0.0)  # the parent now holds a batch of unused nonces
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its first nonce and leave without running the parent's cleanup
        os.write(write, envelope.seal(b"line", key, 0.0)["nonce"].encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child and child != envelope.seal(b"line", key, 0.0)["nonce"]


def test_ingestion_time_keeps_its_type_and_millisecond_precision():
    key = KeyRing("data", rotation=3600, lifetime=3600).current(0)
    assert envelope.seal(b"x", key, 12.0)["ingested"] == 12.0
    ingested = envelope.seal(b"x", key, 12)["ingested"]
    assert ingested == 12 and type(ingested) is int
    assert envelope.seal(b"x", key, 1764403200.123456)["ingested"] == 1764403200.123
