"""Accounts, memberships and who acts for which structure (the token's principal)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.models import (
    Account,
    Membership,
)

ACTIVE = "active"


INVITED = "invited"


DISABLED = "disabled"


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class Principal:
    """A person acting for one structure (or none, for a moderator), as put in a token."""

    account_id: uuid.UUID
    email: str
    name: str
    email_verified: bool
    structure_id: uuid.UUID | None
    roles: tuple[str, ...]
    auth_time: datetime | None = None

    def get_user_id(self) -> str:
        return str(self.account_id)


async def account_by_email(session: AsyncSession, email: str) -> Account | None:
    result = await session.scalars(
        sa.select(Account).where(Account.email == normalize_email(email))
    )
    return result.first()


async def memberships_of(session: AsyncSession, account_id: uuid.UUID) -> list[Membership]:
    result = await session.scalars(
        sa.select(Membership)
        .where(Membership.account_id == account_id)
        .order_by(Membership.created_at)
    )
    return list(result.all())


async def principal(
    session: AsyncSession,
    account_id: uuid.UUID,
    structure_id: uuid.UUID | None,
    auth_time: datetime | None = None,
) -> Principal | None:
    """The account acting for ``structure_id``; None if inactive or not a member there."""
    account = await session.get(Account, account_id)
    if account is None or account.status != ACTIVE:
        return None
    roles: list[str] = []
    if structure_id is not None:
        membership = (
            await session.scalars(
                sa.select(Membership).where(
                    Membership.account_id == account_id, Membership.structure_id == structure_id
                )
            )
        ).first()
        if membership is None:
            return None
        roles.append(membership.role)
    elif not account.is_moderator:
        return None
    if account.is_moderator:
        roles.append("moderator")
    return Principal(
        account_id=account.id,
        email=account.email,
        name=account.name,
        email_verified=account.email_verified,
        structure_id=structure_id,
        roles=tuple(roles),
        auth_time=auth_time,
    )


async def add_membership(
    session: AsyncSession, account_id: uuid.UUID, structure_id: uuid.UUID, role: str
) -> Membership:
    existing = (
        await session.scalars(
            sa.select(Membership).where(
                Membership.account_id == account_id, Membership.structure_id == structure_id
            )
        )
    ).first()
    if existing is not None:
        if role == "admin":
            existing.role = role
        return existing
    membership = Membership(account_id=account_id, structure_id=structure_id, role=role)
    session.add(membership)
    await session.flush()
    return membership
