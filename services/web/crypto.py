"""Secrets at rest (tokens, referral drafts): sealed with AES-256-GCM under a key derived from the
web app's client secret (HKDF), bound to the row they belong to. A leaked database alone yields
neither a token nor what a person said."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.kernel import sealing


class Sealer:
    def __init__(self, secret: str) -> None:
        derive = HKDF(
            algorithm=hashes.SHA256(),
            length=sealing.KEY_BYTES,
            salt=None,
            info=b"relais-web-tokens",
        )
        self._key = derive.derive(secret.encode())

    def seal_bytes(self, value: bytes, context: str) -> bytes:
        return sealing.seal(self._key, value, context)

    def open_bytes(self, raw: bytes, context: str) -> bytes | None:
        """The clear bytes, or None when sealed under another secret or tampered with."""
        try:
            return sealing.unseal(self._key, raw, context)
        except sealing.Unsealable:
            return None

    def seal(self, value: str, context: str) -> str:
        return base64.urlsafe_b64encode(self.seal_bytes(value.encode(), context)).decode()

    def open(self, value: str, context: str) -> str | None:
        """The clear value, or None when it was sealed under another secret or tampered with."""
        try:
            raw = base64.urlsafe_b64decode(value.encode())
        except ValueError:
            return None
        opened = self.open_bytes(raw, context)
        return opened.decode() if opened is not None else None
