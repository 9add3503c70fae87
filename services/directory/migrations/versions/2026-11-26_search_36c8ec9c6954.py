"""search: search documents, facets and vocabulary; FTS5 (SQLite) or French tsvector (PostgreSQL)

These tables are not models (see services/directory/search/tables.py); autogenerate ignores the
``search_`` prefix. Run ``relais reindex`` once after this migration on a database that already
holds entries (a fresh database fills the index as entries are written).

Revision ID: 36c8ec9c6954
Revises: 47316ba052d5
Create Date: 2026-11-26 14:45:31.764438
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db


revision: str = "36c8ec9c6954"
down_revision: str | None = "47316ba052d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOC_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("doc_id", DOC_ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("structure_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("capacity_status", sa.String(20), nullable=False),
        sa.Column("type", sa.String(50), nullable=True),
        sa.Column("fees", sa.String(20), nullable=True),
        sa.Column("appointment_required", sa.Boolean(), nullable=True),
        sa.Column("typology", sa.String(100), nullable=True),
        sa.Column("remote", sa.Boolean(), nullable=False),
        sa.Column("commune_code", sa.String(5), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("updated_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("name_text", sa.Text(), nullable=False),
        sa.Column("topic_text", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("name_terms", sa.Text(), nullable=False),
        sa.Column("topic_terms", sa.Text(), nullable=False),
        sa.Column("body_terms", sa.Text(), nullable=False),
        sa.UniqueConstraint("kind", "entity_id", name="uq_search_documents_entity"),
    )
    op.create_index("ix_search_documents_status", "search_documents", ["kind", "status"])
    op.create_index("ix_search_documents_latitude", "search_documents", ["kind", "latitude"])
    op.create_index("ix_search_documents_structure", "search_documents", ["structure_id"])
    op.create_table(
        "search_facets",
        sa.Column(
            "doc_id",
            DOC_ID,
            sa.ForeignKey("search_documents.doc_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("facet", sa.String(20), primary_key=True),
        sa.Column("value", sa.String(120), primary_key=True),
    )
    op.create_index("ix_search_facets_value", "search_facets", ["facet", "value", "doc_id"])
    op.create_table(
        "search_vocabulary",
        sa.Column("term", sa.String(64), primary_key=True),
    )

    if op.get_bind().dialect.name == "postgresql":
        # Extensions are per database: serialise concurrent migrators of several schemas.
        op.execute("SELECT pg_advisory_xact_lock(hashtext('relais-search-extensions'))")
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        unaccent_schema = op.get_bind().scalar(
            sa.text(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'"
            )
        )
        # French stemming of accent-free words, in this service's schema.
        op.execute("CREATE TEXT SEARCH CONFIGURATION relais_fr (COPY = pg_catalog.french)")
        op.execute(
            "ALTER TEXT SEARCH CONFIGURATION relais_fr ALTER MAPPING FOR hword, hword_part, word "
            f'WITH "{unaccent_schema}".unaccent, french_stem'
        )
        op.execute(
            "ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
            "(to_tsvector('relais_fr'::regconfig, name_text || ' ' || topic_text || ' ' || "
            "body_text)) STORED"
        )
        op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")
        op.execute(
            "CREATE INDEX ix_search_vocabulary_trgm ON search_vocabulary "
            "USING gin (term gin_trgm_ops)"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5(terms, "
            "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4')"
        )
        op.execute(
            "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
            "INSERT INTO search_fts(rowid, terms) "
            "VALUES (new.doc_id, new.name_terms || new.topic_terms || new.body_terms); END"
        )
        op.execute(
            "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
            "DELETE FROM search_fts WHERE rowid = old.doc_id; END"
        )
        op.execute(
            "CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
            "DELETE FROM search_fts WHERE rowid = old.doc_id; "
            "INSERT INTO search_fts(rowid, terms) "
            "VALUES (new.doc_id, new.name_terms || new.topic_terms || new.body_terms); END"
        )
        op.execute(
            "CREATE VIRTUAL TABLE search_vocabulary_trigrams USING fts5(term, tokenize = 'trigram')"
        )
        op.execute(
            "CREATE TRIGGER search_vocabulary_ai AFTER INSERT ON search_vocabulary BEGIN "
            "INSERT INTO search_vocabulary_trigrams(term) VALUES (new.term); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_vocabulary_trgm")
        op.execute("ALTER TABLE search_documents DROP COLUMN IF EXISTS tsv")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS relais_fr")
    else:
        op.execute("DROP TABLE IF EXISTS search_vocabulary_trigrams")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_vocabulary")
    op.drop_index("ix_search_facets_value", table_name="search_facets")
    op.drop_table("search_facets")
    op.drop_index("ix_search_documents_structure", table_name="search_documents")
    op.drop_index("ix_search_documents_latitude", table_name="search_documents")
    op.drop_index("ix_search_documents_status", table_name="search_documents")
    op.drop_table("search_documents")
