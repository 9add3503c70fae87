"""job leases

Revision ID: 6a1f0c2d9b37
Revises:
Create Date: 2026-11-26 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db

revision: str = "6a1f0c2d9b37"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kernel_job_leases",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("leased_until", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_run_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_started_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=20), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("runs", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_kernel_job_leases"),
    )


def downgrade() -> None:
    op.drop_table("kernel_job_leases")
