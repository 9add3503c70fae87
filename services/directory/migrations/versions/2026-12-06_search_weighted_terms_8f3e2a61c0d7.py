"""search: one weighted tsvector of the analysed terms (PostgreSQL); a service's name terms are
its own name's

PostgreSQL: ``search_documents.terms``, generated from ``name_terms`` (weight A), ``topic_terms``
(B) and ``body_terms`` (C), with a GIN index per kind, replaces the three GIN expression indexes on the
unweighted terms (all fields, the name, the name + topics). One index finds the matches; the
weights score them (``'caf':A`` is "caf in the name"), where ranking tested each field's terms
with ``LIKE``.

The vocabulary's trigram index becomes a GiST index: typo candidates are the nearest known
terms, read in the index's order.

Both engines: a service's ``name_terms`` no longer include its structure's name (that name stays
in ``topic_terms``), so a service found only through its structure's name ranks below services
named after the words. Run ``relais reindex`` once after this migration on a database that
already holds entries; until then those services keep ranking as before.

Revision ID: 8f3e2a61c0d7
Revises: c052640b9bce
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8f3e2a61c0d7"
down_revision: str | None = "c052640b9bce"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TERMS = (
    "setweight(to_tsvector('simple'::regconfig, name_terms), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, topic_terms), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, body_terms), 'C')"
)
ALL_TERMS = (
    "array_to_tsvector(array_remove(string_to_array("
    "name_terms || topic_terms || body_terms, ' '), ''))"
)
NAME_TERMS = "array_to_tsvector(array_remove(string_to_array(name_terms, ' '), ''))"
HEAD_TERMS = "array_to_tsvector(array_remove(string_to_array(name_terms || topic_terms, ' '), ''))"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_search_documents_terms")
    op.execute("DROP INDEX IF EXISTS ix_search_documents_name_terms")
    op.execute("DROP INDEX IF EXISTS ix_search_documents_head_terms")
    # Kept in the row, uncompressed (storage MAIN: the text columns, which only feed
    # Meilisearch, are compressed or moved out first): a search reads it for every match.
    op.execute(
        f"ALTER TABLE search_documents ADD COLUMN terms tsvector GENERATED ALWAYS AS ({TERMS}) "
        "STORED, ALTER COLUMN terms SET STORAGE MAIN"
    )
    # One index per kind: a search is for one kind, and the index says so by itself.
    for kind in ("service", "structure"):
        op.execute(
            f"CREATE INDEX ix_search_documents_{kind}_terms ON search_documents "
            f"USING gin (terms) WHERE kind = '{kind}'"
        )
    # Typo candidates: the nearest known terms, in the index's order (GiST), instead of every
    # term above a similarity threshold (GIN), which read most of the vocabulary.
    op.execute("DROP INDEX IF EXISTS ix_search_vocabulary_trgm")
    op.execute(
        "CREATE INDEX ix_search_vocabulary_trgm ON search_vocabulary "
        "USING gist (term gist_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_search_vocabulary_trgm")
    op.execute(
        "CREATE INDEX ix_search_vocabulary_trgm ON search_vocabulary USING gin (term gin_trgm_ops)"
    )
    op.execute("DROP INDEX IF EXISTS ix_search_documents_service_terms")
    op.execute("DROP INDEX IF EXISTS ix_search_documents_structure_terms")
    op.execute("ALTER TABLE search_documents DROP COLUMN terms")
    op.execute(
        f"CREATE INDEX ix_search_documents_terms ON search_documents USING gin (({ALL_TERMS}))"
    )
    op.execute(
        f"CREATE INDEX ix_search_documents_name_terms ON search_documents USING gin (({NAME_TERMS}))"
    )
    op.execute(
        f"CREATE INDEX ix_search_documents_head_terms ON search_documents USING gin (({HEAD_TERMS}))"
    )
