"""follow-up codes: the person's codes (by hash), their throttling, and their own feedback.

Referrals created before have no code; their sending structure can issue one.

Revision ID: 7b2e9c41d0a5
Revises: 8d3a61c4e2f0
Create Date: 2026-12-06 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db

revision: str = "7b2e9c41d0a5"
down_revision: str | None = "8d3a61c4e2f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_feedback", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("person_feedback_comment_enc", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "person_feedback_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.create_table(
        "follow_up_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    with op.batch_alter_table("follow_up_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_follow_up_codes_referral_id"), ["referral_id"], unique=False
        )
    op.create_table(
        "follow_up_throttle",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("follow_up_throttle", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_follow_up_throttle_last_failure_at"), ["last_failure_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("follow_up_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_throttle_last_failure_at"))
    op.drop_table("follow_up_throttle")
    with op.batch_alter_table("follow_up_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_codes_referral_id"))
    op.drop_table("follow_up_codes")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_column("person_feedback_at")
        batch_op.drop_column("person_feedback_comment_enc")
        batch_op.drop_column("person_feedback")
