"""Authenticated encryption of a value at rest (AES-256-GCM): the one way Relais seals a secret or
a person's data. Each sealed value is bound to a context (associated data naming where it lives,
e.g. ``referral:<id>:person``), so it cannot be moved to another row or field. Which key seals
what stays each service's business: the auth service's key-encryption key for its signing keys,
the web app's key for its session tokens and drafts, one data key per referral."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class Unsealable(Exception):
    """Sealed under another key or for another context, or tampered with."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(key: bytes, value: bytes, context: str) -> bytes:
    """``nonce + ciphertext`` of ``value``, bound to ``context``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, value, context.encode())


def unseal(key: bytes, blob: bytes, context: str) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
    except (InvalidTag, ValueError) as exc:
        raise Unsealable("does not verify under this key and context") from exc
