"""search: filter arrays, commune index, field-tier text indexes

- ``search_documents`` gets the multi-valued filters as columns (``thematiques``, ``categories``,
  ``publics``, ``receptions``, ``networks``, ``zones``): on PostgreSQL ``text[]`` with GIN
  indexes, so a thematique or eligibility filter combines with the text index (bitmap AND)
  instead of a semi-join on ``search_facets``, and facet counts read the matched rows only.
  SQLite stores them as JSON (read to feed Meilisearch and for structure hits; its search
  keeps ``search_facets``). Filled from ``search_facets`` for existing rows, which PostgreSQL
  then no longer keeps (it writes no facet rows).
- ``ix_search_documents_commune``: a commune's position (mean of its entries) without a scan.
- PostgreSQL's ``tsv`` holds the analysed terms (exact lexemes, the analyser SQLite and the
  ranking use) instead of a French ``to_tsvector``: the same matches on both engines, and
  cheaper to index.
- Field tiers for top-k ranking: PostgreSQL GIN expression indexes on the analysed terms of the
  name, and of the name + thematiques/structure fields (exact lexemes, no parser); SQLite's
  ``search_fts`` becomes three columns (name, topic, body) so a ``{name}`` / ``{name topic}``
  column filter finds the same tiers. A search over a large matched set ranks the tier first and
  only falls back to scoring every match when the tier cannot prove the page.

Revision ID: bdc6168c4a52
Revises: 41e27662432c
Create Date: 2026-11-26 17:04:08.247983
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bdc6168c4a52"
down_revision: str | None = "41e27662432c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ARRAYS = {
    "thematiques": "thematique",
    "categories": "categorie",
    "publics": "public",
    "receptions": "reception",
    "networks": "network",
    "zones": "zone",
}
NAME_TERMS = "array_to_tsvector(array_remove(string_to_array(name_terms, ' '), ''))"
ALL_TERMS = (
    "array_to_tsvector(array_remove(string_to_array("
    "name_terms || topic_terms || body_terms, ' '), ''))"
)
FRENCH = "to_tsvector('relais_fr'::regconfig, name_text || ' ' || topic_text || ' ' || body_text)"
HEAD_TERMS = "array_to_tsvector(array_remove(string_to_array(name_terms || topic_terms, ' '), ''))"


def upgrade() -> None:
    op.create_index("ix_search_documents_commune", "search_documents", ["commune_code"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE search_documents "
            + ", ".join(f"ADD COLUMN {c} text[] NOT NULL DEFAULT '{{}}'" for c in ARRAYS)
        )
        # One pass over the facets and one rewrite of the documents for all six columns.
        values = ", ".join(
            f"coalesce(array_agg(value ORDER BY value) FILTER (WHERE facet = '{f}'), '{{}}') AS {c}"
            for c, f in ARRAYS.items()
        )
        assignments = ", ".join(f"{c} = f.{c}" for c in ARRAYS)
        backfill = (  # constant names only
            f"UPDATE search_documents d SET {assignments} FROM (SELECT doc_id, {values} "  # noqa: S608
            "FROM search_facets GROUP BY doc_id) f WHERE f.doc_id = d.doc_id"
        )
        op.execute(backfill)
        # PostgreSQL filters, counts and feeds Meilisearch from the arrays: no facet rows.
        op.execute("DELETE FROM search_facets")
        for column in ARRAYS:
            op.execute(
                f"CREATE INDEX ix_search_documents_{column} ON search_documents "
                f"USING gin ({column})"
            )
        # The text index holds the analysed terms (the analyser SQLite's FTS5 and the ranking
        # use) as exact lexemes, instead of a second French analysis by PostgreSQL: the same
        # matches on both engines, and a quarter of the indexing cost of to_tsvector+unaccent.
        op.execute("DROP INDEX IF EXISTS ix_search_documents_tsv")
        op.execute("ALTER TABLE search_documents DROP COLUMN tsv")
        op.execute(
            f"ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
            f"({ALL_TERMS}) STORED"
        )
        op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")
        op.execute(
            f"CREATE INDEX ix_search_documents_name_terms ON search_documents "
            f"USING gin (({NAME_TERMS}))"
        )
        op.execute(
            f"CREATE INDEX ix_search_documents_head_terms ON search_documents "
            f"USING gin (({HEAD_TERMS}))"
        )
        return
    for column in ARRAYS:
        op.add_column("search_documents", sa.Column(column, sa.JSON(), nullable=True))
    for column, facet in ARRAYS.items():
        # JSON arrays (Meilisearch feeding and structure hits read them); search keeps the facets.
        op.execute(
            f"UPDATE search_documents SET {column} = (SELECT json_group_array(value) FROM "  # noqa: S608
            f"(SELECT value FROM search_facets f WHERE f.doc_id = search_documents.doc_id "
            f"AND f.facet = '{facet}' ORDER BY value))"
        )
    for trigger in ("search_documents_ai", "search_documents_ad", "search_documents_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS search_fts")
    op.execute(
        "CREATE VIRTUAL TABLE search_fts USING fts5(name, topic, body, "
        "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4')"
    )
    op.execute(
        "INSERT INTO search_fts(rowid, name, topic, body) "
        "SELECT doc_id, name_terms, topic_terms, body_terms FROM search_documents"
    )
    op.execute(
        "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
        "INSERT INTO search_fts(rowid, name, topic, body) "
        "VALUES (new.doc_id, new.name_terms, new.topic_terms, new.body_terms); END"
    )
    op.execute(
        "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
        "DELETE FROM search_fts WHERE rowid = old.doc_id; END"
    )
    op.execute(
        "CREATE TRIGGER search_documents_au AFTER UPDATE OF name_terms, topic_terms, body_terms "
        "ON search_documents BEGIN "
        "DELETE FROM search_fts WHERE rowid = old.doc_id; "
        "INSERT INTO search_fts(rowid, name, topic, body) "
        "VALUES (new.doc_id, new.name_terms, new.topic_terms, new.body_terms); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_documents_head_terms")
        op.execute("DROP INDEX IF EXISTS ix_search_documents_name_terms")
        op.execute("DROP INDEX IF EXISTS ix_search_documents_tsv")
        op.execute("ALTER TABLE search_documents DROP COLUMN tsv")
        op.execute(
            f"ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
            f"({FRENCH}) STORED"
        )
        op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")
        for column in ARRAYS:
            op.execute(f"DROP INDEX IF EXISTS ix_search_documents_{column}")
            op.execute(f"ALTER TABLE search_documents DROP COLUMN IF EXISTS {column}")
    else:
        for trigger in ("search_documents_ai", "search_documents_ad", "search_documents_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5(terms, "
            "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4')"
        )
        op.execute(
            "INSERT INTO search_fts(rowid, terms) "
            "SELECT doc_id, name_terms || topic_terms || body_terms FROM search_documents"
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
        for column in ARRAYS:
            op.drop_column("search_documents", column)
    op.drop_index("ix_search_documents_commune", table_name="search_documents")
