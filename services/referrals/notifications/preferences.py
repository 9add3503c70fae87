"""A staff member's mail preference for the structure they act for (one row each)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.clock import utcnow
from services.referrals import models as m


async def get(
    session: AsyncSession, subject: str, structure_id: uuid.UUID | None
) -> m.NotificationPreference | None:
    return await session.get(m.NotificationPreference, (subject, structure_id))


async def put(
    session: AsyncSession,
    subject: str,
    structure_id: uuid.UUID,
    *,
    email: str,
    mode: str,
    is_admin: bool,
) -> m.NotificationPreference:
    row = await get(session, subject, structure_id)
    if row is None:
        row = m.NotificationPreference(subject=subject, structure_id=structure_id)
        session.add(row)
    row.email = email
    row.mode = mode
    row.is_admin = is_admin
    row.updated_at = utcnow()
    return row
