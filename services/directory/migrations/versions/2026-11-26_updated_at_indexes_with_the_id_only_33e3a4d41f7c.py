"""updated_at indexes with the id only

The single-column updated_at indexes duplicated the leading column of (updated_at, id), which
serves the `updated_since` keyset order; one index less to maintain on every write and import.

Revision ID: 33e3a4d41f7c
Revises: 92de682cea85
Create Date: 2026-11-26 18:28:11.215429
"""

from collections.abc import Sequence

from alembic import op


revision: str = "33e3a4d41f7c"
down_revision: str | None = "92de682cea85"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_places_updated_at"))
        batch_op.create_index("ix_places_updated", ["updated_at", "id"], unique=False)

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_updated_at"))

    with op.batch_alter_table("structures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_structures_updated_at"))


def downgrade() -> None:
    with op.batch_alter_table("structures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_structures_updated_at"), ["updated_at"], unique=False)

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_updated_at"), ["updated_at"], unique=False)

    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_index("ix_places_updated")
        batch_op.create_index(batch_op.f("ix_places_updated_at"), ["updated_at"], unique=False)
