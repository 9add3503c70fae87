"""Hashing and random secrets of the auth service.

Passwords: argon2id (argon2-cffi defaults, RFC 9106 low-memory profile). Everything else we store
(client secrets, codes, refresh tokens, session ids, invitation and reset links) is a 256-bit
random value, so a SHA-256 digest is enough and keeps the token endpoint fast.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.kernel import sealing

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(24))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def same_digest(value: str, expected_digest: str | None) -> bool:
    return expected_digest is not None and hmac.compare_digest(digest(value), expected_digest)


def _key(key_b64: str, name: str) -> bytes:
    key = base64.urlsafe_b64decode(key_b64 + "=" * (-len(key_b64) % 4))
    if len(key) != sealing.KEY_BYTES:
        raise ValueError(f"{name} must be 32 bytes, base64-encoded")
    return key


class SecretBox:
    """AES-256-GCM for private keys at rest; a no-op box when no key is configured.

    Seals with the current key; opens with it or any previous key (rotation: set the new key,
    keep the old one in AUTH_KEY_ENCRYPTION_KEY_PREVIOUS, run ``relais rotate-key-encryption-key``
    to re-seal every stored key, then drop the old one)."""

    _CONTEXT = "relais-signing-key"

    def __init__(self, key_b64: str, previous_b64: str = "") -> None:
        self._key = _key(key_b64, "AUTH_KEY_ENCRYPTION_KEY") if key_b64 else None
        self._previous = [
            _key(item.strip(), "AUTH_KEY_ENCRYPTION_KEY_PREVIOUS")
            for item in previous_b64.split(",")
            if item.strip()
        ]

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def seal(self, plaintext: str) -> str:
        if self._key is None:
            return plaintext
        sealed = sealing.seal(self._key, plaintext.encode(), self._CONTEXT)
        return "v1:" + base64.urlsafe_b64encode(sealed).decode()

    def open(self, stored: str, *, encrypted: bool) -> str:
        if not encrypted:
            return stored
        candidates = [k for k in (self._key, *self._previous) if k is not None]
        if not candidates or not stored.startswith("v1:"):
            raise ValueError("encrypted signing key but no AUTH_KEY_ENCRYPTION_KEY")
        raw = base64.urlsafe_b64decode(stored[3:])
        for key in candidates:
            try:
                return sealing.unseal(key, raw, self._CONTEXT).decode()
            except sealing.Unsealable:
                continue
        raise ValueError(
            "signing key sealed with an unknown key: set the key that sealed it in "
            "AUTH_KEY_ENCRYPTION_KEY_PREVIOUS"
        )
