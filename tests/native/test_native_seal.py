"""Sealing and keyed hashes: given the same key and nonce, the compiled core writes the reference's
envelope byte for byte (same AAD, same field order, same base64, same rounding of the time), and
its visitor hashes and subject ids are the reference's."""

from __future__ import annotations

import os

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from corpora import canary_lines, hostile_lines, needs_native, sample_lines
from logscrub import native
from logscrub.crypto import envelope, subjects
from logscrub.crypto.keyring import Key
from logscrub.scrub.scrubber import _visitor_hash

pytestmark = needs_native

KEY = Key("data-1764320400", 490089, bytes(range(32)), 1764320400.0, 1764406800.0)
SUBJECT_SECRET = bytes(range(100, 132))


def reference_seal(line: bytes, nonce: bytes, ingested: float, reason, source, subject: bool) -> dict:
    """envelope.seal with the nonce fixed (the reference draws it from the OS)."""
    sub = ("skid-Ab3.9f8e", envelope.AESGCM(SUBJECT_SECRET)) if subject else None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(envelope, "_nonce", lambda: nonce)
        return envelope.seal(line, KEY, ingested, reason, source, sub)


def native_seal(line: bytes, nonce: bytes, ingested: float, reason, source, subject: bool) -> tuple[dict, bytes]:
    skid, subject_secret = ("skid-Ab3.9f8e", SUBJECT_SECRET) if subject else (None, None)
    args = (line, KEY.kid, KEY.secret, ingested, reason, source, skid, nonce, subject_secret)
    return native.module().seal(*args), native.module().seal_json(*args)


@settings(max_examples=400, deadline=None)
@given(
    line=st.binary(max_size=3000),
    nonce=st.binary(min_size=12, max_size=12),
    ingested=st.floats(0, 4e9) | st.integers(0, 4 * 10**12).map(lambda ms: ms / 1000),
    reason=st.none() | st.sampled_from(["no_match", "too_long", "bad_json", ""]),
    source=st.none() | st.sampled_from(["0:12345", "access.log:7", ""]),
    subject=st.booleans(),
)
@example(line=b"", nonce=bytes(12), ingested=1764324000.0005, reason=None, source=None, subject=False)
def test_envelopes_are_byte_identical(line, nonce, ingested, reason, source, subject):
    ref = reference_seal(line, nonce, ingested, reason, source, subject)
    got, got_json = native_seal(line, nonce, ingested, reason, source, subject)
    assert list(got.items()) == list(ref.items())
    assert got_json == orjson.dumps(ref)
    secret = SUBJECT_SECRET if subject else None
    assert envelope.open_sealed(orjson.loads(got_json), KEY, secret) == line


@pytest.mark.parametrize("corpus", [sample_lines, hostile_lines, canary_lines])
def test_corpus_lines_seal_identically(corpus):
    for i, text in enumerate(corpus()[:3000]):
        line = text.encode("utf-8", "surrogatepass")
        nonce = os.urandom(12)
        reason = "no_match" if i % 7 == 0 else None
        ref = reference_seal(line, nonce, 1764324000.0 + i / 7, reason, f"0:{i}", i % 2 == 0)
        _, got_json = native_seal(line, nonce, 1764324000.0 + i / 7, reason, f"0:{i}", i % 2 == 0)
        assert got_json == orjson.dumps(ref)


@settings(max_examples=500, deadline=None)
@given(
    key=st.binary(min_size=0, max_size=64),
    packed=st.sampled_from([b"", bytes(4), bytes(range(16))]) | st.binary(min_size=4, max_size=4),
    ua=st.text(st.characters(exclude_categories=("Cs",)), max_size=200),
)
def test_visitor_hashes_are_the_scrubbers(key, packed, ua):
    assert native.module().visitor_hash(key, packed, ua) == _visitor_hash(key, packed, ua)


@settings(max_examples=500, deadline=None)
@given(secret=st.binary(min_size=32, max_size=32), packed=st.binary(max_size=16))
def test_subject_ids_are_the_references(secret, packed):
    key = Key("data-1", 1, secret, 0.0, 1.0)
    assert native.module().subject_id(secret, packed) == subjects.subject_id(key, packed)
