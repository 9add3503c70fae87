"""services thematiques gin index

GIN index on ``services.thematiques`` (JSONB) so the list filter ``thematiques ?| :values`` is an
index lookup on PostgreSQL instead of a walk of the table; on SQLite a plain index, kept so that
the models and the database agree for autogenerate.

Revision ID: 41e27662432c
Revises: 36c8ec9c6954
Create Date: 2026-11-26 15:40:30.355646
"""

from collections.abc import Sequence

from alembic import op

revision: str = "41e27662432c"
down_revision: str | None = "36c8ec9c6954"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(
            "ix_services_thematiques", ["thematiques"], unique=False, postgresql_using="gin"
        )


def downgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index("ix_services_thematiques", postgresql_using="gin")
