"""structures, services, places: the position of the address found by the geocoder

``geocoded_latitude`` / ``geocoded_longitude``: where the geocoder (GEOCODER_URL, off by default)
found the entry's address; ``geocoded_at``: when it answered for the current address (null: not
looked up yet). Written only by the worker job ``directory.geocode``; existing entries start as
not looked up.

Revision ID: 7c2e4b9a1f35
Revises: 6a1d3c9e5b27
Create Date: 2026-12-06 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db

revision: str = "7c2e4b9a1f35"
down_revision: str | None = "6a1d3c9e5b27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("structures", "services", "places")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("geocoded_latitude", sa.Float(), nullable=True))
            batch_op.add_column(sa.Column("geocoded_longitude", sa.Float(), nullable=True))
            batch_op.add_column(
                sa.Column(
                    "geocoded_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True
                )
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("geocoded_at")
            batch_op.drop_column("geocoded_longitude")
            batch_op.drop_column("geocoded_latitude")
