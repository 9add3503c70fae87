"""search: the status index only for structure documents, no index on categories

``ix_search_documents_status`` (kind, status) selects nearly every document for a service search
(most are published services), yet PostgreSQL ANDed its bitmap of every document with the text
index's (5 ms of a 16 ms search at 100k services, growing with the catalogue). Structures are a
few percent of the documents: for them a status index still narrows the search, so it is
replaced by ``ix_search_documents_structure_status`` (status) for structure documents only.

PostgreSQL: ``ix_search_documents_categories`` goes. A thematique category is searched through
its sub-thematiques (``thematiques``, indexed); the categories column only feeds facet counts,
read from the matched rows. One GIN index less to maintain on every write (an import of 100k
services maintained nine).

Revision ID: 5b1f0c7d2e94
Revises: 33e3a4d41f7c
Create Date: 2026-11-27 04:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1f0c7d2e94"
down_revision: str | None = "33e3a4d41f7c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STRUCTURES = sa.text("kind = 'structure'")


def upgrade() -> None:
    op.create_index(
        "ix_search_documents_structure_status",
        "search_documents",
        ["status"],
        postgresql_where=STRUCTURES,
        sqlite_where=STRUCTURES,
    )
    op.drop_index("ix_search_documents_status", table_name="search_documents")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_search_documents_categories", table_name="search_documents")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_search_documents_categories ON search_documents USING gin (categories)"
        )
    op.create_index("ix_search_documents_status", "search_documents", ["kind", "status"])
    op.drop_index("ix_search_documents_structure_status", table_name="search_documents")
