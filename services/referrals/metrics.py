"""Prometheus gauges of the referral flow: handoffs by state and overdue handoffs.

Refreshed by a worker job from the database (not from request handlers), so every server process
and worker reports the same figures; labels are states only, never ids or personal data.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.kernel.clock import utcnow
from services.kernel.db import Database
from services.kernel.observability import gauge
from services.referrals import models as m
from services.referrals.domain.transitions import AWAITING_ANSWER, HandoffState

HANDOFFS = gauge("relais_handoffs", "Handoffs by current state", ("state",))
HANDOFFS_OVERDUE = gauge(
    "relais_handoffs_overdue", "Handoffs still awaiting an answer after their respond-by date"
)


async def refresh_handoff_gauges(app: Any) -> int:
    """Count handoffs per state and those past their deadline; returns 0 (nothing 'handled')."""
    db: Database = app.state.db
    async with db.session() as session:
        by_state = dict(
            (
                await session.execute(
                    sa.select(m.Handoff.state, sa.func.count()).group_by(m.Handoff.state)
                )
            ).all()
        )
        overdue = await session.scalar(
            sa.select(sa.func.count())
            .select_from(m.Handoff)
            .where(
                m.Handoff.state.in_([s.value for s in AWAITING_ANSWER]),
                m.Handoff.respond_by < utcnow(),
            )
        )
    for state in HandoffState:
        HANDOFFS.labels(state.value).set(int(by_state.get(state.value, 0)))
    HANDOFFS_OVERDUE.set(int(overdue or 0))
    return 0
