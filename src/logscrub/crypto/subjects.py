"""Per-subject keys: one client's raw records can be erased without touching anyone else's.

How they combine with data keys (crypto-shredding): docs/architecture.md ("Keys").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from base64 import urlsafe_b64encode
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from logscrub.crypto.keyring import Key

SUBJECT_KEY_BYTES = 32
_NONCE = 12
UNATTRIBUTED = b""  # lines whose address could not be read share one subject key per period
# Subjects remembered per period. Past it the memory starts over: a subject seen again gets another
# key, which erasure still finds (it matches every key of the subject id); memory stays bounded
# however many distinct clients a period has (about 400 bytes each).
MAX_SUBJECTS = 65536


def subject_id(data_key: Key, packed_ip: bytes) -> str:
    digest = hmac.new(data_key.secret, b"subject|" + packed_ip, hashlib.sha256).digest()
    return urlsafe_b64encode(digest[:9]).decode()


def subject_record(data_kid: str, skid: str) -> str:
    """The keys-topic record key of a subject key."""
    return f"subject/{data_kid}/{skid}"


def erased_record(data_kid: str, sid: str) -> str:
    """The keys-topic record key saying a subject's records of one period were erased."""
    return f"erased/{data_kid}/{sid}"


def wrap(data_key: Key, record_key: str, secret: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(data_key.secret).encrypt(nonce, secret, record_key.encode())


def unwrap(data_key: Key, record_key: str, sealed: bytes) -> bytes | None:
    """The subject key, or None when the record does not authenticate under ``data_key``."""
    try:
        return AESGCM(data_key.secret).decrypt(sealed[:_NONCE], sealed[_NONCE:], record_key.encode())
    except (InvalidTag, ValueError):
        return None


class SubjectKeys:
    """The current data period's subject keys, made on first sight and published before use.

    ``publish(record_key, value)`` sends; ``flush()`` must return only once they are stored, and
    is called before the records sealed under new keys are acknowledged (each batch).
    """

    def __init__(self, publish: Callable[[str, bytes], None], flush: Callable[[], None]) -> None:
        self.publish = publish
        self._flush = flush
        self._pending = False
        self.created = 0
        self._kid: str | None = None
        self._keys: dict[bytes, tuple[str, bytes]] = {}  # packed address -> (skid, secret)
        self._by_skid: dict[str, bytes] = {}

    def for_subject(self, data_key: Key, packed_ip: bytes) -> tuple[str, bytes]:
        if data_key.kid != self._kid:  # a new period: the old period's keys are never used again
            self._kid = data_key.kid
            self._keys = {}
            self._by_skid = {}
        got = self._keys.get(packed_ip)
        if got is None:
            if len(self._keys) >= MAX_SUBJECTS:
                self._keys = {}
                self._by_skid = {}
            skid = f"{subject_id(data_key, packed_ip)}.{secrets.token_hex(4)}"
            secret = secrets.token_bytes(SUBJECT_KEY_BYTES)
            record = subject_record(data_key.kid, skid)
            self.publish(record, wrap(data_key, record, secret))
            got = self._keys[packed_ip] = (skid, secret)
            self._by_skid[skid] = packed_ip
            self.created += 1
            self._pending = True
        return got

    def flush(self) -> None:
        if self._pending:
            self._flush()
            self._pending = False

    def drop(self, data_kid: str, skid: str) -> None:
        """An erasure destroyed this key: the subject's next line gets a new one."""
        if data_kid == self._kid:
            packed = self._by_skid.pop(skid, None)
            if packed is not None:
                self._keys.pop(packed, None)
