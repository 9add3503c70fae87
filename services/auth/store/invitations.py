"""Invitations to join a structure, and password resets (single-use tokens)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.crypto import digest, random_token
from services.auth.models import (
    Account,
    Invitation,
    PasswordReset,
)
from services.auth.store.accounts import add_membership, normalize_email
from services.kernel.clock import utcnow


async def create_invitation(
    session: AsyncSession,
    *,
    email: str,
    structure_id: uuid.UUID,
    role: str,
    invited_by: uuid.UUID | None,
    days: int = 7,
) -> tuple[Invitation, str]:
    token = random_token(32)
    now = utcnow()
    invitation = Invitation(
        token_hash=digest(token),
        email=normalize_email(email),
        structure_id=structure_id,
        role=role,
        invited_by=invited_by,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(invitation)
    await session.flush()
    return invitation, token


async def open_invitation(session: AsyncSession, token: str) -> Invitation | None:
    row = (
        await session.scalars(sa.select(Invitation).where(Invitation.token_hash == digest(token)))
    ).first()
    if row is None or row.accepted_at is not None or row.expires_at <= utcnow():
        return None
    return row


async def structure_invitations(session: AsyncSession, structure_id: uuid.UUID) -> list[Invitation]:
    result = await session.scalars(
        sa.select(Invitation)
        .where(
            Invitation.structure_id == structure_id,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at.desc())
    )
    return list(result)


async def pending_invitation(
    session: AsyncSession, structure_id: uuid.UUID, invitation_id: uuid.UUID
) -> Invitation | None:
    return (
        await session.scalars(
            sa.select(Invitation).where(
                Invitation.id == invitation_id,
                Invitation.structure_id == structure_id,
                Invitation.accepted_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
        )
    ).first()


async def renew_invitation(session: AsyncSession, invitation: Invitation, days: int = 7) -> str:
    """A new link for the invitation (the previous one stops working)."""
    token = random_token(32)
    invitation.token_hash = digest(token)
    invitation.expires_at = utcnow() + timedelta(days=days)
    await session.flush()
    return token


async def pending_invitations(session: AsyncSession, email: str) -> list[Invitation]:
    result = await session.scalars(
        sa.select(Invitation).where(
            Invitation.email == normalize_email(email),
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
    )
    return list(result.all())


async def accept_invitation(
    session: AsyncSession, invitation: Invitation, account: Account
) -> bool:
    """Single use: exactly one acceptance wins."""
    result = await session.execute(
        sa.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=utcnow())
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    await add_membership(session, account.id, invitation.structure_id, invitation.role)
    return True


async def create_reset(session: AsyncSession, account: Account, hours: int = 1) -> str:
    token = random_token(32)
    now = utcnow()
    session.add(
        PasswordReset(
            token_hash=digest(token),
            account_id=account.id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    await session.flush()
    return token


async def open_reset(session: AsyncSession, token: str) -> PasswordReset | None:
    row = (
        await session.scalars(
            sa.select(PasswordReset).where(PasswordReset.token_hash == digest(token))
        )
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


async def use_reset(session: AsyncSession, reset: PasswordReset) -> bool:
    result = await session.execute(
        sa.update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return getattr(result, "rowcount", 0) == 1
