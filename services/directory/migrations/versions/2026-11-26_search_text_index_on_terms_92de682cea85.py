"""search text index on terms: GIN expression index instead of a stored tsvector (PostgreSQL)

The ``tsv`` column stored each document's terms a second time (~0.9 KB of a ~2.6 KB row): every
search that reads matched rows read it too. The text index is now a GIN index on the expression
(the analysed terms as exact lexemes); rows are a third narrower. SQLite is unchanged (FTS5).

Revision ID: 92de682cea85
Revises: 72ec15173ccc
Create Date: 2026-11-26 17:44:30.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "92de682cea85"
down_revision: str | None = "72ec15173ccc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALL_TERMS = (
    "array_to_tsvector(array_remove(string_to_array("
    "name_terms || topic_terms || body_terms, ' '), ''))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_documents_tsv")
        op.execute("ALTER TABLE search_documents DROP COLUMN tsv")
        op.execute(
            f"CREATE INDEX ix_search_documents_terms ON search_documents USING gin (({ALL_TERMS}))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_documents_terms")
        op.execute(
            f"ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
            f"({ALL_TERMS}) STORED"
        )
        op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")
