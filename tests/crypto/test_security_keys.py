"""Master key loading and wrapping, subject keys, and envelopes sealed per subject (no broker)."""

from __future__ import annotations

import base64
import os

import orjson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from logscrub.crypto import envelope
from logscrub.crypto.keyring import Key
from logscrub.crypto import master, subjects

RAW = os.urandom(32)
ENV = {master.ENV: base64.b64encode(RAW).decode()}


def data_key(kid: str = "data-1") -> Key:
    return Key(kid, 1, os.urandom(32), 0.0, 1e12)


def test_master_key_comes_from_the_environment_or_a_private_file(tmp_path):
    assert master.load(ENV).subject_hash(b"\x01") == master.load(ENV).subject_hash(b"\x01")
    path = tmp_path / "master.key"
    path.write_text(ENV[master.ENV] + "\n")
    path.chmod(0o600)
    assert master.load({master.ENV_FILE: str(path)}).subject_hash(b"\x01") == master.load(ENV).subject_hash(b"\x01")
    path.chmod(0o644)
    with pytest.raises(master.MasterKeyError, match="readable by other users"):
        master.load({master.ENV_FILE: str(path)})


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, master.ENV),
        ({master.ENV: "not base64!"}, master.ENV),
        ({master.ENV: base64.b64encode(b"short").decode()}, master.ENV),
        ({**ENV, master.ENV_FILE: "/x"}, master.ENV_FILE),
    ],
)
def test_a_missing_or_bad_master_key_is_refused_naming_the_variable_never_the_value(env, names):
    with pytest.raises(master.MasterKeyError) as e:
        master.load(env)
    assert names in str(e.value)
    for value in env.values():
        assert value == "/x" or value not in str(e.value)


def test_wrapped_keys_open_only_under_the_same_master_key_and_label():
    m = master.load(ENV)
    sealed = m.wrap(b"key/data/a", b"secret")
    assert m.unwrap(b"key/data/a", sealed) == b"secret"
    with pytest.raises(master.WrapError):
        m.unwrap(b"key/data/b", sealed)  # moved to another record
    with pytest.raises(master.WrapError):
        master.MasterKey(os.urandom(32)).unwrap(b"key/data/a", sealed)
    assert "secret" not in repr(m) and RAW.hex() not in repr(m)


def test_subject_keys_are_one_per_subject_and_period_and_each_record_is_taken_once():
    keys = subjects.SubjectKeys()
    d1, d2 = data_key("d1"), data_key("d2")
    a = keys.for_subject(d1, b"\x0a\x00\x00\x01")
    assert keys.for_subject(d1, b"\x0a\x00\x00\x01") is a
    b = keys.for_subject(d1, b"\x0a\x00\x00\x02")
    assert a[0] != b[0] and a[1] is not b[1]
    c = keys.for_subject(d2, b"\x0a\x00\x00\x01")  # a new period, a new key
    pending = keys.take_pending()
    assert [record for record, _ in pending] == [
        subjects.subject_record("d1", a[0]), subjects.subject_record("d1", b[0]), subjects.subject_record("d2", c[0])
    ]
    assert keys.take_pending() == []  # nothing new
    record, wrapped = pending[0]
    secret = subjects.unwrap(d1, record, wrapped)
    assert secret is not None and len(secret) == subjects.SUBJECT_KEY_BYTES
    nonce = os.urandom(12)
    assert AESGCM(secret).decrypt(nonce, a[1].encrypt(nonce, b"x", None), None) == b"x"  # the cipher is that key
    assert subjects.unwrap(d2, record, wrapped) is None  # dies with its data key
    assert len({subjects.unwrap(d, r, w) for (r, w), d in zip(pending, (d1, d1, d2))}) == 3


def test_an_erased_subject_key_is_replaced_not_reused():
    keys = subjects.SubjectKeys()
    d = data_key()
    skid, _ = keys.for_subject(d, b"\x01\x02\x03\x04")
    keys.drop(d.kid, skid)
    assert keys.for_subject(d, b"\x01\x02\x03\x04")[0] != skid
    records = dict(keys.take_pending())
    assert len(records) == 2 and keys.take_pending() == []  # both stored, each once
    secrets = {subjects.unwrap(d, record, wrapped) for record, wrapped in records.items()}
    assert len(secrets) == 2 and None not in secrets


def test_a_pending_subject_key_opens_what_was_sealed_under_it():
    keys = subjects.SubjectKeys()
    d = data_key()
    subject = keys.for_subject(d, b"\x01\x02\x03\x04")
    env = envelope.seal(b"203.0.113.9 - - line", d, 1.0, None, "0:1", subject)
    ((record, wrapped),) = keys.take_pending()
    assert record == subjects.subject_record(d.kid, envelope.subject_key_id(env, d))
    assert envelope.open_sealed(env, d, subjects.unwrap(d, record, wrapped)) == b"203.0.113.9 - - line"


def test_subject_ids_link_records_within_a_period_only():
    d1, d2 = data_key("d1"), data_key("d2")
    assert subjects.subject_id(d1, b"\x01") == subjects.subject_id(d1, b"\x01")
    assert subjects.subject_id(d1, b"\x01") != subjects.subject_id(d2, b"\x01")


def test_an_envelope_sealed_per_subject_needs_both_keys():
    d = data_key()
    skid, secret = "sid.1", os.urandom(32)
    env = envelope.seal(b"203.0.113.9 - - line", d, 1.0, None, "0:1", (skid, AESGCM(secret)))
    assert env["v"] == envelope.VERSION and envelope.subject_key_id(env, d) == skid
    assert envelope.open_sealed(env, d, secret) == b"203.0.113.9 - - line"
    for bad in (None, os.urandom(32)):
        with pytest.raises(envelope.EnvelopeError):
            envelope.open_sealed(env, d, bad)
    other = envelope.seal(b"x", d, 1.0, None, "0:2", ("other.1", AESGCM(secret)))
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_sealed({**env, "sk": other["sk"]}, d, secret)  # the subject key id is authenticated


def test_the_subject_key_id_is_sealed_per_record():
    """In clear, one id per client and data period chained a client's records (and, by their order,
    the analytics events beside them): each record's id reads differently, and only the data key
    reads it."""
    d = data_key()
    # A long id: three letters turn up by chance in 50 records of random base64 (a CI run found "sid").
    sid = "subjectidinclear.1"
    subject = (sid, AESGCM(os.urandom(32)))
    envs = [envelope.seal(b"line", d, 1.0, None, f"0:{i}", subject) for i in range(50)]
    assert len({e["sk"] for e in envs}) == 50
    assert all("subjectidinclear" not in orjson.dumps(e).decode() for e in envs)
    assert {envelope.subject_key_id(e, d) for e in envs} == {sid}
    with pytest.raises(envelope.EnvelopeError):
        envelope.subject_key_id(envs[0], data_key("d2"))


def test_version_2_records_are_still_read():
    """Records sealed before an upgrade (subject key id in clear) open until their window ends."""
    d, secret = data_key(), os.urandom(32)
    nonce = os.urandom(12)
    ct = AESGCM(secret).encrypt(nonce, b"old line", f"logscrub/2|{d.kid}|sid.1|".encode())
    env = {"v": 2, "kid": d.kid, "ingested": 1.0, "sk": "sid.1",
           "nonce": base64.b64encode(nonce).decode(), "ct": base64.b64encode(ct).decode()}  # fmt: skip
    assert envelope.subject_key_id(env, d) == "sid.1"
    assert envelope.open_sealed(env, d, secret) == b"old line"


def test_subject_keys_held_in_memory_are_bounded(monkeypatch):
    monkeypatch.setattr(subjects, "MAX_SUBJECTS", 3)
    keys = subjects.SubjectKeys()
    d = data_key()
    first = keys.for_subject(d, b"\x00\x00\x00\x01")
    for i in range(2, 6):
        keys.for_subject(d, i.to_bytes(4, "big"))
    assert len(keys._keys) <= 3
    again = keys.for_subject(d, b"\x00\x00\x00\x01")
    assert again != first  # forgotten: a new key, under the same subject id, so erasure finds both
    assert again[0].partition(".")[0] == first[0].partition(".")[0]
