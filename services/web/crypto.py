"""Tokens at rest: sealed with AES-256-GCM under a key derived from the web app's client secret
(HKDF), bound to the session row they belong to. A leaked database alone yields no token."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Sealer:
    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"relais-web-tokens")
        self._aead = AESGCM(key.derive(secret.encode()))

    def seal(self, value: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode(), context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, value: str, context: str) -> str | None:
        """The clear value, or None when it was sealed under another secret or tampered with."""
        try:
            raw = base64.urlsafe_b64decode(value.encode())
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError):
            return None
