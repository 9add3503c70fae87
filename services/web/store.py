"""Persistence of the web service: pending sign-ins and server-side sessions."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.clock import utcnow
from services.web.models import PendingSignIn, WebSession

SIGN_IN_TTL = timedelta(minutes=10)
REFRESH_CLAIM = timedelta(seconds=15)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def random_key(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


async def start_sign_in(session: AsyncSession, next_path: str) -> tuple[str, str, str]:
    """A new pending sign-in: (state, PKCE verifier, nonce)."""
    state, verifier, nonce = random_key(), random_key(48), random_key(16)
    session.add(
        PendingSignIn(
            state_hash=digest(state), code_verifier=verifier, nonce=nonce, next_path=next_path
        )
    )
    await session.flush()
    return state, verifier, nonce


async def take_sign_in(session: AsyncSession, state: str) -> PendingSignIn | None:
    """The pending sign-in of this ``state``, used once (deleted), if recent enough."""
    row = (
        await session.scalars(
            sa.select(PendingSignIn).where(PendingSignIn.state_hash == digest(state[:200]))
        )
    ).first()
    if row is None:
        return None
    deleted = await session.execute(sa.delete(PendingSignIn).where(PendingSignIn.id == row.id))
    if getattr(deleted, "rowcount", 0) != 1 or row.created_at < utcnow() - SIGN_IN_TTL:
        return None
    return row


async def open_session(session: AsyncSession, row: WebSession) -> str:
    """Store a new session; returns the key the cookie carries (only its digest is kept)."""
    key = random_key()
    row.key_hash = digest(key)
    row.csrf = random_key(24)
    session.add(row)
    await session.flush()
    return key


async def find_session(session: AsyncSession, key: str, idle: timedelta) -> WebSession | None:
    now = utcnow()
    row = (
        await session.scalars(sa.select(WebSession).where(WebSession.key_hash == digest(key)))
    ).first()
    if row is None or row.expires_at <= now or row.last_seen_at <= now - idle:
        return None
    return row


async def touch(session: AsyncSession, row: WebSession) -> None:
    """Record activity, at most once a minute (a page view is not a write)."""
    now = utcnow()
    if row.last_seen_at < now - timedelta(minutes=1):
        await session.execute(
            sa.update(WebSession).where(WebSession.id == row.id).values(last_seen_at=now)
        )


async def claim_refresh(session: AsyncSession, row: WebSession) -> bool:
    """One request renews the tokens (refresh tokens are single use); True for the winner."""
    now = utcnow()
    result = await session.execute(
        sa.update(WebSession)
        .where(
            WebSession.id == row.id,
            WebSession.version == row.version,
            sa.or_(WebSession.refreshing_until.is_(None), WebSession.refreshing_until < now),
        )
        .values(refreshing_until=now + REFRESH_CLAIM)
    )
    return getattr(result, "rowcount", 0) == 1


async def save_tokens(session: AsyncSession, session_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(
        sa.update(WebSession)
        .where(WebSession.id == session_id)
        .values(**values, refreshing_until=None, version=WebSession.version + 1)
    )


async def close_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(sa.delete(WebSession).where(WebSession.id == session_id))


async def purge(
    session: AsyncSession, idle: timedelta, now: datetime | None = None
) -> tuple[list[tuple[uuid.UUID, str]], int]:
    """Delete ended sessions and abandoned sign-ins: (id and sealed refresh token of each
    session deleted, for their revocation at auth; how many sign-ins went)."""
    now = now or utcnow()
    gone = await session.execute(
        sa.delete(WebSession)
        .where(sa.or_(WebSession.expires_at <= now, WebSession.last_seen_at <= now - idle))
        .returning(WebSession.id, WebSession.refresh_token)
    )
    ended = [(row_id, sealed) for row_id, sealed in gone.all()]
    stale = await session.execute(
        sa.delete(PendingSignIn).where(PendingSignIn.created_at < now - SIGN_IN_TTL)
    )
    return ended, int(getattr(stale, "rowcount", 0) or 0)
