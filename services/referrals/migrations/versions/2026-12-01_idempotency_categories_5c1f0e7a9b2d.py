"""idempotency categories: the personal-data categories a stored response shows, so that a
replay shows them only while the consent still lets the caller's structure see them.

Revision ID: 5c1f0e7a9b2d
Revises: 4291b74b4535
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db

revision: str = "5c1f0e7a9b2d"
down_revision: str | None = "4291b74b4535"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(
            sa.Column(
                "categories",
                services.kernel.db.JSONType(),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("categories")
