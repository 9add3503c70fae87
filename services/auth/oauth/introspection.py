"""Finding a token for introspection (RFC 7662) and revocation (RFC 7009), and what each does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.oauth.adapter import TOKEN_AUTH_METHODS, OAuthClient
from services.auth.store import tokens
from services.kernel.clock import utcnow

if TYPE_CHECKING:
    from services.auth.oauth.server import RelaisServer


@dataclass
class TokenRecord(TokenMixin):  # type: ignore[misc]
    """A token found for introspection or revocation."""

    kind: str  # access_token | refresh_token
    live: bool
    client_id: str
    jti: str | None = None
    family_id: uuid.UUID | None = None
    claims: dict[str, Any] | None = None

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id == client.client_id

    def is_expired(self) -> bool:
        return not self.live

    def is_revoked(self) -> bool:
        return not self.live


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662. A client may introspect the tokens issued to it."""

    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS
    server: RelaisServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return self.server.find_token(token_string)

    def check_permission(self, token: TokenRecord, client: OAuthClient, request: Any) -> bool:
        return token.client_id == client.client_id

    def introspect_token(self, token: TokenRecord) -> dict[str, Any]:
        if token.claims is None:
            return {"active": True, "token_type": "refresh_token", "client_id": token.client_id}
        claims = token.claims
        body: dict[str, Any] = {
            key: claims[key]
            for key in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti")
            if key in claims
        }
        body.update(
            active=True,
            token_type="Bearer",  # noqa: S106
            structure_id=claims.get("structure_id"),
            roles=claims.get("roles", []),
        )
        return body


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Revoking a refresh token revokes its family (and the family's access tokens)."""

    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS
    server: RelaisServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return self.server.find_token(token_string)

    def revoke_token(self, token: TokenRecord, request: Any) -> None:
        if token.kind == "refresh_token" and token.family_id is not None:
            self.server.bridge(tokens.revoke_family, token.family_id)
        elif token.jti is not None:
            self.server.bridge(revoke_access, token.jti)


async def revoke_access(session: AsyncSession, jti: str) -> None:
    row = await tokens.access_token(session, jti)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


async def find_access(session: AsyncSession, jti: str) -> tuple[bool, str] | None:
    row = await tokens.access_token(session, jti)
    if row is None:
        return None
    return await tokens.token_is_live(session, row), row.client_id


async def find_refresh(session: AsyncSession, token: str) -> TokenRecord | None:
    row = await tokens.find_refresh(session, token)
    if row is None:
        return None
    live = await tokens.token_is_live(session, row)
    return TokenRecord(
        kind="refresh_token", live=live, client_id=row.client_id, family_id=row.family_id
    )
