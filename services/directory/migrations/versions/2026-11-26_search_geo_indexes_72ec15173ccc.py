"""search geo indexes: position box and remote documents

- ``ix_search_documents_position`` (kind, latitude, longitude) replaces the latitude index: the
  longitude bounds of a radius search are checked in the index, so only documents inside the
  box are read (not the whole latitude band).
- PostgreSQL: ``ix_search_documents_remote``, a partial index of the remote documents (à
  distance), which a radius search adds wherever they are eligible.

Revision ID: 72ec15173ccc
Revises: bdc6168c4a52
Create Date: 2026-11-26 17:41:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "72ec15173ccc"
down_revision: str | None = "bdc6168c4a52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_search_documents_position", "search_documents", ["kind", "latitude", "longitude"]
    )
    op.drop_index("ix_search_documents_latitude", table_name="search_documents")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_search_documents_remote ON search_documents (kind) "
            "WHERE remote IS TRUE"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_documents_remote")
    op.create_index("ix_search_documents_latitude", "search_documents", ["kind", "latitude"])
    op.drop_index("ix_search_documents_position", table_name="search_documents")
