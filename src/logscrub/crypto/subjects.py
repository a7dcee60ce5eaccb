"""Per-subject keys: one client's raw records can be erased without touching anyone else's.

How they combine with data keys (crypto-shredding): docs/architecture.md ("Keys").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from base64 import urlsafe_b64encode

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
_SECRETS_BATCH = 256


def subject_id(data_key: Key, packed_ip: bytes) -> str:
    digest = hmac.new(data_key.secret, b"subject|" + packed_ip, hashlib.sha256).digest()
    return urlsafe_b64encode(digest[:9]).decode()


def subject_record(data_kid: str, skid: str) -> str:
    """The keys-topic record key of a subject key."""
    return f"subject/{data_kid}/{skid}"


def erased_record(data_kid: str, sid: str) -> str:
    """The keys-topic record key saying a subject's records of one period were erased."""
    return f"erased/{data_kid}/{sid}"


def wrap(data_key: Key, record_key: str, secret: bytes, cipher: AESGCM | None = None) -> bytes:
    """``secret`` sealed under the data key (``cipher``, when the caller holds one for it)."""
    nonce = os.urandom(_NONCE)
    return nonce + (cipher or AESGCM(data_key.secret)).encrypt(nonce, secret, record_key.encode())


def unwrap(data_key: Key, record_key: str, sealed: bytes) -> bytes | None:
    """The subject key, or None when the record does not authenticate under ``data_key``."""
    try:
        return AESGCM(data_key.secret).decrypt(sealed[:_NONCE], sealed[_NONCE:], record_key.encode())
    except (InvalidTag, ValueError):
        return None


class SubjectKeys:
    """The current data period's subject keys, made on first sight.

    Each new key's record (wrapped under the data key) waits in ``pending`` until the driver stores
    it together with the lines sealed under it: ``take_pending`` before acknowledging those lines.
    """

    def __init__(self) -> None:
        self.created = 0
        self.pending: list[tuple[str, bytes]] = []  # (keys-topic record key, wrapped subject key)
        self._kid: str | None = None
        self._wrapper: AESGCM | None = None  # the data key's cipher, for wrapping
        self._keys: dict[bytes, tuple[str, AESGCM]] = {}  # packed address -> (skid, its cipher)
        self._by_skid: dict[str, bytes] = {}
        self._secrets: list[bytes] = []  # drawn from the OS a batch at a time
        self._pid = os.getpid()  # a forked child must not reuse its parent's secrets

    def for_subject(self, data_key: Key, packed_ip: bytes) -> tuple[str, AESGCM]:
        """(subject key id, cipher) of this address in ``data_key``'s period."""
        if data_key.kid != self._kid:  # a new period: the old period's keys are never used again
            self._kid = data_key.kid
            self._wrapper = AESGCM(data_key.secret)
            self._keys = {}
            self._by_skid = {}
        got = self._keys.get(packed_ip)
        if got is None:
            if len(self._keys) >= MAX_SUBJECTS:
                self._keys = {}
                self._by_skid = {}
            skid = f"{subject_id(data_key, packed_ip)}.{secrets.token_hex(4)}"
            secret = self._secret()
            record = subject_record(data_key.kid, skid)
            self.pending.append((record, wrap(data_key, record, secret, self._wrapper)))
            got = self._keys[packed_ip] = (skid, AESGCM(secret))
            self._by_skid[skid] = packed_ip
            self.created += 1
        return got

    def take_pending(self) -> list[tuple[str, bytes]]:
        """The records of the keys made since the last call (to store before acknowledging their lines)."""
        pending, self.pending = self.pending, []
        return pending

    def drop(self, data_kid: str, skid: str) -> None:
        """An erasure destroyed this key: the subject's next line gets a new one."""
        if data_kid == self._kid:
            packed = self._by_skid.pop(skid, None)
            if packed is not None:
                self._keys.pop(packed, None)

    def _secret(self) -> bytes:
        if not self._secrets or self._pid != os.getpid():
            self._pid = os.getpid()
            batch = os.urandom(SUBJECT_KEY_BYTES * _SECRETS_BATCH)
            self._secrets = [batch[i : i + SUBJECT_KEY_BYTES] for i in range(0, len(batch), SUBJECT_KEY_BYTES)]
        return self._secrets.pop()
