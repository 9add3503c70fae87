"""notification_preferences.referent_events: which updates a referent is told of.

Rows written before keep what they received: every update when they chose immediate mail,
none otherwise. New rows default to refusal, expiry and takeover.

Revision ID: 3135207a005c
Revises: 5c1f0e7a9b2d
Create Date: 2026-12-06 10:38:49.680155
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kernel.db import JSONType

revision: str = "3135207a005c"
down_revision: str | None = "5c1f0e7a9b2d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVERY_UPDATE = [
    "handoff.acknowledged",
    "handoff.accepted",
    "handoff.declined",
    "handoff.taken_over",
    "handoff.expired",
]


def upgrade() -> None:
    with op.batch_alter_table("notification_preferences") as batch:
        batch.add_column(sa.Column("referent_events", JSONType(), nullable=True))
    table = sa.table(
        "notification_preferences",
        sa.column("mode", sa.String),
        sa.column("referent_events", JSONType()),
    )
    op.execute(
        table.update().where(table.c.mode == "immediate").values(referent_events=EVERY_UPDATE)
    )
    op.execute(table.update().where(table.c.mode != "immediate").values(referent_events=[]))


def downgrade() -> None:
    with op.batch_alter_table("notification_preferences") as batch:
        batch.drop_column("referent_events")
