"""Sealed raw lines for the security zone (``security.raw`` and ``logs.rejected``).

AES-256-GCM under a rotating data key, or under the subject key of the line's
client within that data period (``security.subjects``; erasing one subject then
shreds only their records): authenticated, so a tampered or mis-keyed record
fails loudly instead of decrypting to garbage. The key ids and the record kind
are bound as associated data, so a record cannot be moved between topics or
keys unnoticed. Only coarse, non-personal metadata
(ingestion time, rejection reason, where the line came from) stays in clear, for retention and
triage. The subject key id is sealed too (under the data key, per record): in clear it was one
pseudonym per client and data period, and with the records' order it re-linked analytics events.
"""

from __future__ import annotations

import base64
import os
from binascii import b2a_base64
from collections import deque
from functools import lru_cache, partial
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from logscrub.crypto.keyring import Key

_cipher = lru_cache(maxsize=64)(AESGCM)  # one cipher object per data key, not per line

VERSION = 3  # 2: the optional subject key id (sk); 3: sk sealed under the data key
_READS = (2, 3)  # version 2 records, written before an upgrade, are read until their window ends
NONCE_BYTES = 12
_NONCE_BATCH = 256
# Random nonces drawn from the OS a batch at a time (one system call per line costs more than the
# encryption). Each is used once: popleft is atomic, and a forked child drops the parent's batch.
_nonces: deque[bytes] = deque()
os.register_at_fork(after_in_child=_nonces.clear)
# Drivers pass one ingestion time for many lines: rounding it once per value is enough.
_millis = lru_cache(maxsize=16, typed=True)(partial(round, ndigits=3))


class EnvelopeError(ValueError):
    """A record that is not a well-formed envelope of a version we read."""


def seal(
    line: bytes,
    key: Key,
    ingested: float,
    reason: str | None = None,
    source: str | None = None,
    subject: tuple[str, AESGCM] | None = None,
) -> dict[str, Any]:
    """The envelope of one raw line; ``reason`` marks a rejected line.

    ``source`` says where the line came from (``partition:offset`` of logs.raw, or the line number
    of a file): responders can find it again, and the accounting can tell duplicates from lines.
    ``subject`` is (subject key id, its cipher): the line is sealed under that key instead, and the
    id under the data key (same nonce, other key).
    """
    nonce = _nonce()
    data = _cipher(key.secret)
    skid, cipher = subject if subject is not None else (None, data)
    ct = cipher.encrypt(nonce, line, _aad(VERSION, key.kid, skid, reason))
    env: dict[str, Any] = {"v": VERSION, "kid": key.kid, "ingested": _millis(ingested)}
    if skid is not None:
        sealed_id = data.encrypt(nonce, skid.encode(), _sk_aad(key.kid))
        env["sk"] = b2a_base64(sealed_id, newline=False).decode()
    if reason is not None:
        env["reason"] = reason
    if source is not None:
        env["src"] = source
    env["nonce"] = b2a_base64(nonce, newline=False).decode()
    env["ct"] = b2a_base64(ct, newline=False).decode()
    return env


def _nonce() -> bytes:
    try:
        return _nonces.popleft()
    except IndexError:
        batch = os.urandom(NONCE_BYTES * _NONCE_BATCH)
        _nonces.extend([batch[i : i + NONCE_BYTES] for i in range(NONCE_BYTES, len(batch), NONCE_BYTES)])
        return batch[:NONCE_BYTES]


def subject_key_id(env: dict[str, Any], key: Key) -> str | None:
    """The subject key id an envelope was sealed under (None: the data key); needs the data key.

    Raises EnvelopeError if the record is not a well-formed envelope of ``key``."""
    version = env.get("v")
    if version not in _READS or env.get("kid") != key.kid:
        raise EnvelopeError("envelope version or key id does not match")
    sk = env.get("sk")
    if sk is None or version == 2:
        return sk
    try:
        nonce = base64.b64decode(env["nonce"])
        return _cipher(key.secret).decrypt(nonce, base64.b64decode(sk), _sk_aad(key.kid)).decode()
    except (KeyError, ValueError, TypeError, InvalidTag):
        raise EnvelopeError("envelope does not authenticate under its key") from None


def open_sealed(env: dict[str, Any], key: Key, subject_secret: bytes | None = None) -> bytes:
    """The raw line of an envelope; raises EnvelopeError if it was altered or a key is wrong.

    ``subject_secret`` is the key named by the envelope's subject key id (``subject_key_id``), when
    it has one.
    """
    skid = subject_key_id(env, key)
    if (skid is None) != (subject_secret is None):
        raise EnvelopeError("envelope needs its subject key" if skid else "envelope has no subject key")
    try:
        nonce = base64.b64decode(env["nonce"])
        ct = base64.b64decode(env["ct"])
        secret = key.secret if subject_secret is None else subject_secret
        return _cipher(secret).decrypt(nonce, ct, _aad(env["v"], key.kid, skid, env.get("reason")))
    except (KeyError, ValueError, TypeError, InvalidTag):
        raise EnvelopeError("envelope does not authenticate under its key") from None


def _aad(version: int, kid: str, skid: str | None, reason: str | None) -> bytes:
    return f"logscrub/{version}|{kid}|{skid or ''}|{reason or ''}".encode()


def _sk_aad(kid: str) -> bytes:
    return f"logscrub/{VERSION}/sk|{kid}".encode()
