"""Test-side token minting: tests sign their own access tokens with a throwaway key."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

ISSUER = "http://127.0.0.1:8000/auth"
AUDIENCE = "relais"


class TokenFactory:
    def __init__(self) -> None:
        self.key = ECKey.generate_key(
            "P-256", parameters={"kid": "test-key", "alg": "ES256", "use": "sig"}
        )
        self.other_key = ECKey.generate_key("P-256", parameters={"kid": "test-key", "alg": "ES256"})

    @property
    def jwks(self) -> str:
        return json.dumps(KeySet([self.key]).as_dict(private=False))

    def mint(
        self,
        claims: dict[str, Any],
        *,
        key: ECKey | None = None,
        header: dict[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        base = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 900,
            "jti": uuid.uuid4().hex,
        }
        base.update(claims)
        return jwt.encode(
            header or {"alg": "ES256", "kid": "test-key", "typ": "at+jwt"}, base, key or self.key
        )

    def user(
        self,
        structure_id: uuid.UUID | str | None,
        roles: Iterable[str] = ("member",),
        *,
        subject: str | None = None,
        scope: str = "",
        **extra: Any,
    ) -> str:
        return self.mint(
            {
                "sub": subject or str(uuid.uuid4()),
                "client_id": "relais-web",
                "structure_id": str(structure_id) if structure_id else None,
                "roles": list(roles),
                "scope": scope,
                **extra,
            }
        )

    def client(
        self, structure_id: uuid.UUID | str, scopes: Iterable[str], *, client_id: str | None = None
    ) -> str:
        cid = client_id or f"client-{uuid.uuid4().hex[:8]}"
        return self.mint(
            {
                "sub": cid,
                "client_id": cid,
                "structure_id": str(structure_id),
                "roles": [],
                "scope": " ".join(scopes),
            }
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
