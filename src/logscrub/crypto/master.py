"""The master key: wraps the keys workers share through Kafka, and keys the subject hashes that must
outlive the security window (restrictions, the audit trail).

It comes from the environment only (``LOGSCRUB_MASTER_KEY``, base64, or ``LOGSCRUB_MASTER_KEY_FILE``),
never from the config file or a topic, so that a copy of the cluster's data is not a copy of the keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from logscrub.errors import Refused

ENV = "LOGSCRUB_MASTER_KEY"
ENV_FILE = "LOGSCRUB_MASTER_KEY_FILE"
KEY_BYTES = 32
NONCE_BYTES = 12


class MasterKeyError(Refused):
    """No usable master key; the message names the variable to set."""


class WrapError(ValueError):
    """A wrapped value that does not authenticate: another master key, or tampered."""


def new_master_key() -> str:
    """A fresh master key in the form ``LOGSCRUB_MASTER_KEY`` and key files take."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def load(env: Mapping[str, str] | None = None) -> MasterKey:
    """The master key from the environment; a missing or malformed one is refused, naming the variable."""
    env = os.environ if env is None else env
    if env.get(ENV) and env.get(ENV_FILE):
        raise MasterKeyError(f"{ENV} and {ENV_FILE} are both set: set one")
    if env.get(ENV_FILE):
        path = Path(env[ENV_FILE])
        try:
            text, source = path.read_text(encoding="ascii"), ENV_FILE
        except (OSError, UnicodeDecodeError) as e:
            raise MasterKeyError(f"{ENV_FILE}: cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
        if path.stat().st_mode & 0o077:
            raise MasterKeyError(f"{ENV_FILE}: {path} is readable by other users; chmod 600 it")
    elif env.get(ENV):
        text, source = env[ENV], ENV
    else:
        raise MasterKeyError(
            f"no master key: set {ENV} (base64 of 32 random bytes) or {ENV_FILE} (a file holding it); "
            "`logscrub keys init FILE` makes one"
        )
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise MasterKeyError(f"{source}: expected base64 of {KEY_BYTES} bytes")  # never echo the value
    return MasterKey(raw)


class MasterKey:
    """Derived keys, one per purpose, so that no two uses share key material."""

    __slots__ = ("_wrap", "_subject")

    def __init__(self, raw: bytes) -> None:
        self._wrap = AESGCM(_derive(raw, b"logscrub/wrap/v1"))
        self._subject = _derive(raw, b"logscrub/subject/v1")

    def __repr__(self) -> str:
        return "MasterKey(<hidden>)"

    def wrap(self, label: bytes, payload: bytes) -> bytes:
        """``payload`` sealed and bound to ``label`` (the record key), so it cannot be moved to another."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._wrap.encrypt(nonce, payload, label)

    def unwrap(self, label: bytes, sealed: bytes) -> bytes:
        try:
            return self._wrap.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], label)
        except (InvalidTag, ValueError):
            raise WrapError("wrapped key does not authenticate under this master key") from None

    def subject_hash(self, packed_ip: bytes) -> str:
        """A stable keyed hash of an address: names a subject in records that outlive the window."""
        return hmac.new(self._subject, packed_ip, hashlib.sha256).hexdigest()[:32]


def _derive(raw: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(raw)
