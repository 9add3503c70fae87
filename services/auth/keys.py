"""Signing keys: stored in the auth database, rotated with announcement, published as JWKS.

The newest key whose ``usable_from`` has passed signs new tokens. ``relais rotate-signing-key``
adds a key usable after AUTH_SIGNING_KEY_ANNOUNCE_SECONDS, so verifiers see it in the JWKS before
any token carries it. A superseded key stays published until the tokens it signed have expired
(access token lifetime + clock leeway), then it is dropped from the JWKS.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from joserfc.jwk import ECKey
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.crypto import SecretBox, random_token
from services.auth.models import SigningKey
from services.kernel.clock import utcnow
from services.kernel.settings import Settings

ALGORITHM = "ES256"
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Signer:
    kid: str
    key: ECKey
    alg: str = ALGORITHM


@dataclass(frozen=True)
class KeySnapshot:
    signer: Signer
    jwks: dict[str, Any]
    verification_keys: dict[str, ECKey]


def _select(
    rows: list[SigningKey], now: datetime, keep_for: timedelta
) -> tuple[SigningKey | None, list[SigningKey]]:
    """(key that signs now, keys to publish) from all keys, newest first."""
    ordered = sorted(rows, key=lambda r: r.usable_from, reverse=True)
    signing = next((r for r in ordered if r.usable_from <= now), None)
    published: list[SigningKey] = []
    newer_usable_from: datetime | None = None
    for row in ordered:
        if row.usable_from > now:
            published.append(row)  # announced, not signing yet
            continue
        # A key is superseded when the next newer key became usable.
        if newer_usable_from is None or newer_usable_from + keep_for > now:
            published.append(row)
        newer_usable_from = row.usable_from
    return signing, published


class KeyRing:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.box = SecretBox(
            settings.auth_key_encryption_key, settings.auth_key_encryption_key_previous
        )
        self._snapshot: KeySnapshot | None = None
        self._loaded_at = 0.0

    @property
    def keep_for(self) -> timedelta:
        return timedelta(
            seconds=self.settings.auth_access_token_ttl_seconds
            + self.settings.jwt_leeway_seconds
            + 60
        )

    def invalidate(self) -> None:
        self._snapshot = None

    async def snapshot(self, session: AsyncSession) -> KeySnapshot:
        fresh = time.monotonic() - self._loaded_at < CACHE_SECONDS
        if self._snapshot is not None and fresh:
            return self._snapshot
        rows = list((await session.scalars(sa.select(SigningKey))).all())
        now = utcnow()
        signing, published = _select(rows, now, self.keep_for)
        if signing is None:
            signing = await self.add_key(session, usable_from=now)
            published.append(signing)
        keys = {row.kid: self._private(row) for row in published}
        if signing.kid not in keys:
            keys[signing.kid] = self._private(signing)
        self._snapshot = KeySnapshot(
            signer=Signer(kid=signing.kid, key=keys[signing.kid]),
            jwks={"keys": [row.public_jwk for row in published]},
            verification_keys=keys,
        )
        self._loaded_at = time.monotonic()
        return self._snapshot

    def _private(self, row: SigningKey) -> ECKey:
        data = json.loads(self.box.open(row.private_jwk, encrypted=row.encrypted))
        return ECKey.import_key(data)

    async def add_key(self, session: AsyncSession, *, usable_from: datetime) -> SigningKey:
        kid = f"{usable_from:%Y%m%d}-{random_token(6)}"
        key = ECKey.generate_key("P-256", parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})
        row = SigningKey(
            kid=kid,
            alg=ALGORITHM,
            public_jwk=key.as_dict(private=False),
            private_jwk=self.box.seal(json.dumps(key.as_dict(private=True))),
            encrypted=self.box.enabled,
            created_at=utcnow(),
            usable_from=usable_from,
        )
        session.add(row)
        await session.flush()
        self.invalidate()
        return row

    async def reseal(self, session: AsyncSession) -> int:
        """Re-encrypt every stored private key with the current key-encryption key (they may
        have been sealed with a previous one, or stored in clear before one was set). Returns
        how many rows were rewritten; idempotent."""
        if not self.box.enabled:
            raise ValueError("AUTH_KEY_ENCRYPTION_KEY is not set: nothing to seal with")
        rows = list((await session.scalars(sa.select(SigningKey).with_for_update())).all())
        for row in rows:
            row.private_jwk = self.box.seal(self.box.open(row.private_jwk, encrypted=row.encrypted))
            row.encrypted = True
        await session.flush()
        self.invalidate()
        return len(rows)

    async def rotate(self, session: AsyncSession) -> SigningKey:
        announce = timedelta(seconds=self.settings.auth_signing_key_announce_seconds)
        return await self.add_key(session, usable_from=utcnow() + announce)
