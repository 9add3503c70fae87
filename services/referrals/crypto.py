"""Encryption of personal data at rest (AES-256-GCM), with crypto-shredding.

Each referral has its own random data key (``DataKey``): every personal value of that referral
(identity, contact, summary, comments, sealed purpose and referent, attachments, stored idempotent
answers) is sealed with it, and with nothing else. The data key is stored wrapped by the keyring
(``referrals.data_key_enc``, ``kid:base64``). Withdrawal and retention erasure delete the wrapped
key in the same transaction as the values: any older copy of them (dead tuples, WAL, backups) is
then noise.

Keyring keys come from ``REFERRALS_ENCRYPTION_KEYS`` (``kid:base64key,…``; the current one is
``REFERRALS_ENCRYPTION_KEY_ID`` or the first listed). Without it, outside production, a key file
is created under ``RELAIS_HOME/keys/referrals.json`` on first use. The keyring wraps data keys and
seals the service's own secrets (webhook signing secrets), never a person's data directly. Each
value is bound to where it lives (associated data such as ``referral:<id>:person``) so ciphertexts
cannot be swapped between rows. ``relais rotate-keys`` rewraps the data keys (and the secrets)
under the current keyring key; the values themselves do not move.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import uuid
from pathlib import Path

from services.kernel import sealing
from services.kernel.settings import Settings, SettingsError

KEY_FILE = Path("keys") / "referrals.json"


class DecryptionError(Exception):
    """A value cannot be decrypted (unknown key id or tampered ciphertext)."""


class Keyring:
    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise SettingsError(f"REFERRALS_ENCRYPTION_KEY_ID: unknown key id {current!r}")
        for kid, key in keys.items():
            if len(key) != 32:
                raise SettingsError(
                    f"REFERRALS_ENCRYPTION_KEYS: key {kid!r} must be 32 bytes (base64)"
                )
            if not kid or ":" in kid or "," in kid:
                raise SettingsError(f"REFERRALS_ENCRYPTION_KEYS: bad key id {kid!r}")
        self.keys = dict(keys)
        self.current = current

    # Tokens: "kid:base64(nonce + ciphertext)"
    def seal(self, value: str, context: str) -> str:
        return self._seal(value.encode(), context)

    def open(self, token: str, context: str) -> str:
        return self._open(token, context).decode()

    # A referral's data key, wrapped.
    def wrap(self, key: DataKey, referral_id: uuid.UUID) -> str:
        return self._seal(key.material, data_key_context(referral_id))

    def unwrap(self, token: str, referral_id: uuid.UUID) -> DataKey:
        return DataKey(self._open(token, data_key_context(referral_id)))

    def reseal(self, token: str, context: str) -> str:
        """The same value sealed under the current key (rotation)."""
        return self._seal(self._open(token, context), context)

    def _seal(self, value: bytes, context: str) -> str:
        blob = sealing.seal(self.keys[self.current], value, context)
        return f"{self.current}:{base64.b64encode(blob).decode()}"

    def _open(self, token: str, context: str) -> bytes:
        kid, _, data = token.partition(":")
        key = self.keys.get(kid)
        if key is None:
            raise DecryptionError(f"unknown key id {kid!r}")
        return _decrypt(key, _b64(data), context)


def data_key_context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:key"


class DataKey:
    """One referral's own key; its personal values are sealed with it alone. Tokens carry no key
    id (``base64(nonce + ciphertext)``): the referral names its key."""

    __slots__ = ("material",)

    def __init__(self, material: bytes) -> None:
        if len(material) != sealing.KEY_BYTES:
            raise DecryptionError("a data key is 32 bytes")
        self.material = material

    @classmethod
    def generate(cls) -> DataKey:
        return cls(sealing.new_key())

    def seal(self, value: str, context: str) -> str:
        return base64.b64encode(self.seal_bytes(value.encode(), context)).decode()

    def open(self, token: str, context: str) -> str:
        return self.open_bytes(_b64(token), context).decode()

    def seal_bytes(self, value: bytes, context: str) -> bytes:
        return sealing.seal(self.material, value, context)

    def open_bytes(self, blob: bytes, context: str) -> bytes:
        return _decrypt(self.material, blob, context)


def _decrypt(key: bytes, blob: bytes, context: str) -> bytes:
    try:
        return sealing.unseal(key, blob, context)
    except sealing.Unsealable as exc:
        raise DecryptionError("ciphertext does not verify") from exc


def _b64(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("malformed ciphertext") from exc


def parse_keys(raw: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        if not sep:
            raise SettingsError("REFERRALS_ENCRYPTION_KEYS: expected `kid:base64key,…`")
        try:
            keys[kid.strip()] = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SettingsError(f"REFERRALS_ENCRYPTION_KEYS: key {kid!r} is not base64") from exc
    return keys


def new_key() -> tuple[str, bytes]:
    return f"k{secrets.token_hex(4)}", sealing.new_key()


def key_file(settings: Settings) -> Path:
    return settings.home / KEY_FILE


def _write_key_file(path: Path, current: str, keys: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {"current": current, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    tmp.replace(path)


def _read_key_file(path: Path) -> tuple[str, dict[str, bytes]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = {k: base64.b64decode(v) for k, v in data["keys"].items()}
    return str(data["current"]), keys


def load_keyring(settings: Settings) -> Keyring:
    if settings.referrals_encryption_keys:
        keys = parse_keys(settings.referrals_encryption_keys)
        if not keys:
            raise SettingsError("REFERRALS_ENCRYPTION_KEYS: no key given")
        current = settings.referrals_encryption_key_id or next(iter(keys))
        return Keyring(keys, current)
    if settings.production:
        raise SettingsError("REFERRALS_ENCRYPTION_KEYS must be set in production")
    path = key_file(settings)
    if not path.exists():
        _create_key_file(path)
    current, keys = _read_key_file(path)
    return Keyring(keys, current)


def _create_key_file(path: Path) -> None:
    """Create the key file once, even when several processes start at the same time: each
    writes its own candidate and links it into place; the first link wins, the others read it."""
    kid, key = new_key()
    candidate = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    _write_key_file(candidate, kid, {kid: key})
    try:
        os.link(candidate, path)
    except FileExistsError:
        pass
    finally:
        candidate.unlink(missing_ok=True)


def add_key_to_file(settings: Settings) -> str:
    """Add a fresh key to the key file and make it current (embedded mode); returns its id."""
    if settings.referrals_encryption_keys:
        raise SettingsError(
            "REFERRALS_ENCRYPTION_KEYS is set: add the new key there and set "
            "REFERRALS_ENCRYPTION_KEY_ID instead"
        )
    load_keyring(settings)  # creates the file when missing
    path = key_file(settings)
    _, keys = _read_key_file(path)
    kid, key = new_key()
    keys[kid] = key
    _write_key_file(path, kid, keys)
    return kid
