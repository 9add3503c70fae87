"""referrals: each side closes its own part (who closed first, the other side's evaluation).

Revision ID: c41f7d2a9e10
Revises: b7e2c94d1a36
Create Date: 2026-12-06 14:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kernel.db import UTCDateTime

revision: str = "c41f7d2a9e10"
down_revision: str | None = "b7e2c94d1a36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("closed_by", sa.String(10), nullable=True))
        batch.add_column(sa.Column("second_outcome", sa.String(30), nullable=True))
        batch.add_column(sa.Column("second_evaluation_score", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("second_evaluation_comment_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("second_closed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        for name in (
            "second_closed_at",
            "second_evaluation_comment_enc",
            "second_evaluation_score",
            "second_outcome",
            "closed_by",
        ):
            batch.drop_column(name)
