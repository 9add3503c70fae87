"""Authorization codes, access and refresh tokens: issue, rotate, revoke."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.crypto import digest
from services.auth.models import (
    AccessToken,
    Account,
    AuthorizationCode,
    LoginSession,
    RefreshToken,
)
from services.auth.store.accounts import ACTIVE
from services.auth.store.clients import client_by_id
from services.kernel.clock import utcnow


@dataclass(frozen=True)
class CodeInfo:
    client_id: str
    account_id: uuid.UUID
    structure_id: uuid.UUID | None
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    family_id: uuid.UUID
    auth_time: datetime


@dataclass(frozen=True)
class RefreshInfo:
    id: uuid.UUID
    family_id: uuid.UUID
    client_id: str
    account_id: uuid.UUID
    structure_id: uuid.UUID | None
    scope: str
    expires_at: datetime


@dataclass
class IssuedToken:
    jti: str
    client_id: str
    account_id: uuid.UUID | None
    structure_id: uuid.UUID | None
    scope: str
    roles: list[str]
    issued_at: datetime
    expires_at: datetime
    family_id: uuid.UUID | None = None
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


async def save_code(session: AsyncSession, code: str, info: CodeInfo, ttl: int) -> None:
    now = utcnow()
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            client_id=info.client_id,
            account_id=info.account_id,
            structure_id=info.structure_id,
            redirect_uri=info.redirect_uri,
            scope=info.scope,
            nonce=info.nonce,
            code_challenge=info.code_challenge,
            code_challenge_method=info.code_challenge_method,
            family_id=info.family_id,
            auth_time=info.auth_time,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    await session.flush()


async def consume_code(session: AsyncSession, code: str, client_id: str) -> CodeInfo | None:
    """Mark the code used (exactly one caller wins). A replayed code revokes its tokens."""
    row = (
        await session.scalars(
            sa.select(AuthorizationCode).where(AuthorizationCode.code_hash == digest(code))
        )
    ).first()
    if row is None or row.client_id != client_id:
        return None
    now = utcnow()
    result = await session.execute(
        sa.update(AuthorizationCode)
        .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(result, "rowcount", 0) != 1:
        await revoke_family(session, row.family_id)
        return None
    if row.expires_at <= now:
        return None
    return CodeInfo(
        client_id=row.client_id,
        account_id=row.account_id,
        structure_id=row.structure_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        nonce=row.nonce,
        code_challenge=row.code_challenge,
        code_challenge_method=row.code_challenge_method,
        family_id=row.family_id,
        auth_time=row.auth_time,
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    now = utcnow()
    await session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        sa.update(AccessToken)
        .where(AccessToken.family_id == family_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def save_issued(session: AsyncSession, issued: IssuedToken) -> None:
    session.add(
        AccessToken(
            jti=issued.jti,
            family_id=issued.family_id,
            client_id=issued.client_id,
            account_id=issued.account_id,
            structure_id=issued.structure_id,
            scope=issued.scope,
            roles=issued.roles,
            issued_at=issued.issued_at,
            expires_at=issued.expires_at,
        )
    )
    if issued.refresh_token and issued.account_id and issued.family_id:
        assert issued.refresh_expires_at is not None
        session.add(
            RefreshToken(
                token_hash=digest(issued.refresh_token),
                family_id=issued.family_id,
                client_id=issued.client_id,
                account_id=issued.account_id,
                structure_id=issued.structure_id,
                scope=issued.scope,
                created_at=issued.issued_at,
                expires_at=issued.refresh_expires_at,
            )
        )
    await session.flush()


async def find_refresh(session: AsyncSession, token: str) -> RefreshToken | None:
    return (
        await session.scalars(
            sa.select(RefreshToken).where(RefreshToken.token_hash == digest(token))
        )
    ).first()


async def rotate_refresh(session: AsyncSession, token: str) -> RefreshInfo | None:
    """Use a refresh token once. Reusing a rotated (or revoked) one revokes its whole family."""
    row = await find_refresh(session, token)
    if row is None:
        return None
    now = utcnow()
    result = await session.execute(
        sa.update(RefreshToken)
        .where(
            RefreshToken.id == row.id,
            RefreshToken.rotated_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(rotated_at=now)
    )
    if getattr(result, "rowcount", 0) != 1:
        await revoke_family(session, row.family_id)
        return None
    if row.expires_at <= now:
        return None
    return RefreshInfo(
        id=row.id,
        family_id=row.family_id,
        client_id=row.client_id,
        account_id=row.account_id,
        structure_id=row.structure_id,
        scope=row.scope,
        expires_at=row.expires_at,
    )


async def access_token(session: AsyncSession, jti: str) -> AccessToken | None:
    return await session.get(AccessToken, jti)


async def token_is_live(session: AsyncSession, record: AccessToken | RefreshToken) -> bool:
    """Not revoked, not expired, its client not revoked and its account (if any) active."""
    now = utcnow()
    if record.revoked_at is not None or record.expires_at <= now:
        return False
    if isinstance(record, RefreshToken) and record.rotated_at is not None:
        return False
    if await client_by_id(session, record.client_id) is None:
        return False
    if record.account_id is not None:
        account = await session.get(Account, record.account_id)
        if account is None or account.status != ACTIVE:
            return False
    return True


async def revoked_access_tokens(session: AsyncSession) -> list[str]:
    """The jti of revoked access tokens that have not expired yet (sorted: a stable body)."""
    rows = await session.scalars(
        sa.select(AccessToken.jti)
        .where(AccessToken.revoked_at.is_not(None), AccessToken.expires_at > utcnow())
        .order_by(AccessToken.jti)
    )
    return list(rows.all())


async def revoke_structure_tokens(
    session: AsyncSession, account_id: uuid.UUID, structure_id: uuid.UUID
) -> None:
    """Access tokens an account holds for one structure stop working (membership removed)."""
    await session.execute(
        sa.update(AccessToken)
        .where(
            AccessToken.account_id == account_id,
            AccessToken.structure_id == structure_id,
            AccessToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )


async def revoke_account_grants(session: AsyncSession, account_id: uuid.UUID) -> None:
    """Sessions, refresh tokens and recorded access tokens of an account stop working."""
    now = utcnow()
    await session.execute(sa.delete(LoginSession).where(LoginSession.account_id == account_id))
    await session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        sa.update(AccessToken)
        .where(AccessToken.account_id == account_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
