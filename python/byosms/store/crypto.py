"""Secrets at rest (PRODUCT.md S9, ARCHITECTURE.md invariants).

Each secret value is sealed with AES-256-GCM under the store key: a fresh
random 96-bit nonce per value (NIST SP 800-38D §8.2.2: random nonces are safe
well below 2^32 encryptions per key, far beyond the number of integration
secrets), and associated data binding the ciphertext to its integration id and
field name, so a ciphertext copied onto another integration or field fails to
open instead of yielding someone else's password.

The key is 32 bytes from a key file or the BYOSMS_SECRET_KEY environment
variable, base64. A database remembers a key check value sealed under its key,
so opening it with another key fails at once with a clear error rather than on
the first reveal.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from byosms.secret import Secret

KEY_ENV = "BYOSMS_SECRET_KEY"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits, GCM's native nonce size (SP 800-38D §5.2.1.1)
#: Format/version tag, part of every associated data: a future format can't be
#: confused with this one.
AAD_PREFIX = b"byosms-secret-v1\x00"
_KEY_CHECK_PLAINTEXT = b"byosms key check"
_KEY_CHECK_AAD = b"byosms-keycheck-v1"


class SecretKeyError(Exception):
    """The secret key is missing, malformed, or not the one the data was sealed with."""


class MissingKeyError(SecretKeyError):
    pass


class WrongKeyError(SecretKeyError):
    pass


def generate_key() -> str:
    """A new random key, base64 — what goes in the key file or BYOSMS_SECRET_KEY."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _decode_key(text: str | bytes, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretKeyError(f"the secret key in {where} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise SecretKeyError(
            f"the secret key in {where} must be {KEY_BYTES} bytes (base64 of 32 random "
            f"bytes), got {len(raw)}"
        )
    return raw


def load_key(key_file: str | os.PathLike[str] | None = None) -> bytes:
    """The store key: from `key_file` when given, else from $BYOSMS_SECRET_KEY."""
    if key_file is not None:
        path = Path(key_file)
        try:
            text = path.read_bytes()
        except OSError as e:
            raise MissingKeyError(f"cannot read the secret key file {path}: {e.strerror}") from None
        return _decode_key(text, f"key file {path}")
    value = os.environ.get(KEY_ENV)
    if not value:
        raise MissingKeyError(
            f"no secret key: set {KEY_ENV} to base64 of 32 random bytes or give a key file "
            f"(python -c 'from byosms.store.crypto import generate_key; print(generate_key())')"
        )
    return _decode_key(value, f"${KEY_ENV}")


class SecretBox:
    """Seals and opens secret values for the store. Holds the key; never prints it."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
            raise SecretKeyError(f"the secret key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(bytes(key))

    def __repr__(self) -> str:
        return "SecretBox(key='********')"

    @staticmethod
    def _aad(integration_id: str, field: str) -> bytes:
        return AAD_PREFIX + integration_id.encode() + b"\x00" + field.encode()

    def seal(self, value: Secret | str, *, integration_id: str, field: str) -> bytes:
        plaintext = value.reveal() if isinstance(value, Secret) else value
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(
            nonce, plaintext.encode("utf-8"), self._aad(integration_id, field)
        )

    def open(self, blob: bytes, *, integration_id: str, field: str) -> Secret:
        try:
            plaintext = self._aead.decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], self._aad(integration_id, field)
            )
        except InvalidTag:
            raise WrongKeyError(
                f"cannot decrypt secret {field!r} of integration {integration_id!r}: wrong "
                f"secret key, or the value was tampered with or moved"
            ) from None
        return Secret(plaintext.decode("utf-8"))

    def key_check(self) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, _KEY_CHECK_PLAINTEXT, _KEY_CHECK_AAD)

    def verify_key_check(self, blob: bytes) -> None:
        try:
            ok = (
                self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _KEY_CHECK_AAD)
                == _KEY_CHECK_PLAINTEXT
            )
        except InvalidTag:
            ok = False
        if not ok:
            raise WrongKeyError(
                "the secret key does not match the key this database was created with"
            )
