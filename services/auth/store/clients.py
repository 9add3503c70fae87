"""API clients (OAuth2): lookup, creation, the first-party staff app, revocation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.crypto import digest, random_token
from services.auth.models import (
    AccessToken,
    Client,
    RefreshToken,
)
from services.kernel.clock import utcnow


@dataclass(frozen=True)
class ClientInfo:
    id: uuid.UUID
    client_id: str
    secret_hash: str | None
    name: str
    structure_id: uuid.UUID | None
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    auth_method: str
    first_party: bool = False
    post_logout_redirect_uris: tuple[str, ...] = ()

    @classmethod
    def of(cls, row: Client) -> ClientInfo:
        return cls(
            id=row.id,
            client_id=row.client_id,
            secret_hash=row.secret_hash,
            name=row.name,
            structure_id=row.structure_id,
            scopes=tuple(row.scopes.split()),
            grant_types=tuple(row.grant_types),
            redirect_uris=tuple(row.redirect_uris),
            auth_method=row.auth_method,
            first_party=row.first_party,
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris or ()),
        )


async def client_by_id(session: AsyncSession, client_id: str) -> ClientInfo | None:
    row = (
        await session.scalars(
            sa.select(Client).where(Client.client_id == client_id, Client.revoked_at.is_(None))
        )
    ).first()
    return ClientInfo.of(row) if row else None


async def create_client(
    session: AsyncSession,
    *,
    name: str,
    structure_id: uuid.UUID | None,
    scopes: list[str],
    grant_types: list[str],
    redirect_uris: list[str] | None = None,
    public: bool = False,
    created_by: uuid.UUID | None = None,
) -> tuple[Client, str | None]:
    secret = None if public else random_token(32)
    client = Client(
        client_id=f"rls_{random_token(12)}",
        secret_hash=digest(secret) if secret else None,
        name=name,
        structure_id=structure_id,
        scopes=" ".join(scopes),
        grant_types=grant_types,
        redirect_uris=redirect_uris or [],
        auth_method="none" if public else "client_secret_basic",
        created_by=created_by,
    )
    session.add(client)
    await session.flush()
    return client, secret


async def register_first_party_client(
    session: AsyncSession,
    *,
    client_id: str,
    secret: str,
    name: str,
    scopes: list[str],
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str],
) -> Client:
    """Create or bring up to date a first-party staff application (fixed id, confidential,
    authorization code + refresh token, no consent page). Run at each migration: a changed base
    URL or secret takes effect; a revoked one is restored, since the operator configures it, not
    an admin."""
    client = (await session.scalars(sa.select(Client).where(Client.client_id == client_id))).first()
    if client is None:
        client = Client(client_id=client_id)
        session.add(client)
    client.secret_hash = digest(secret)
    client.name = name
    client.structure_id = None
    client.scopes = " ".join(scopes)
    client.grant_types = ["authorization_code", "refresh_token"]
    client.redirect_uris = redirect_uris
    client.post_logout_redirect_uris = post_logout_redirect_uris
    client.auth_method = "client_secret_basic"
    client.first_party = True
    client.revoked_at = None
    await session.flush()
    return client


async def revoke_client(session: AsyncSession, client: Client) -> None:
    now = utcnow()
    client.revoked_at = now
    await session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.client_id == client.client_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        sa.update(AccessToken)
        .where(AccessToken.client_id == client.client_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
