"""first-party clients (no consent page) and post-logout redirect URIs

Revision ID: 4a7ff0fdfd3c
Revises: 19661ead044d
Create Date: 2026-12-06 10:04:38.722766
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db


revision: str = "4a7ff0fdfd3c"
down_revision: str | None = "19661ead044d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_party", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "post_logout_redirect_uris",
                services.kernel.db.JSONType(),
                server_default="[]",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("post_logout_redirect_uris")
        batch_op.drop_column("first_party")
