"""The search tables (created by the directory's ``search`` migration, not by the models).

- ``search_documents``: one row per searchable service or structure, denormalised: display and
  filter columns (multi-valued ones as arrays), the raw text of each field (Meilisearch) and
  the analysed terms of each field (matching and ranking, identical on every backend).
- ``search_facets``: (document, facet, value) rows for multi-valued filters and facet counts
  (thematique, categorie, public, reception, network, zone, type, fees): SQLite only.
  PostgreSQL filters and counts from the same values held as ``text[]`` columns of
  ``search_documents`` (GIN) and keeps no facet rows.
- ``search_vocabulary``: every indexed term, for typo correction through a trigram index.
- SQLite only: ``search_fts`` (FTS5, ``unicode61 remove_diacritics 2``; columns name, topic,
  body) mirrors the terms of each document and ``search_vocabulary_trigrams`` (FTS5
  ``trigram``) mirrors the vocabulary, both kept in sync by triggers. PostgreSQL: ``terms``, a
  tsvector generated from the three fields' terms (weights A, B, C) with a GIN index per kind
  (see ``postgres.py``; not declared here: PostgreSQL computes it), and a pg_trgm GIN index on
  the vocabulary.
"""

from __future__ import annotations

import sqlalchemy as sa

from services.kernel.db import UTCDateTime

metadata = sa.MetaData()

KINDS = ("service", "structure")
FACETS = ("thematique", "categorie", "public", "reception", "network", "zone", "type", "fees")
TABLE_PREFIX = "search_"
# SQLite needs exactly INTEGER for a rowid alias (FTS5 rows share it); PostgreSQL gets a bigint.
DOC_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# document column -> facet rows holding the same values
FILTER_ARRAYS = {
    "thematiques": "thematique",
    "categories": "categorie",
    "publics": "public",
    "receptions": "reception",
    "networks": "network",
    "zones": "zone",
}
ARRAY_OF_TEXT = sa.ARRAY(sa.Text()).with_variant(sa.JSON(), "sqlite")

documents = sa.Table(
    "search_documents",
    metadata,
    sa.Column("doc_id", DOC_ID, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("entity_id", sa.Uuid, nullable=False),
    sa.Column("structure_id", sa.Uuid, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("capacity_status", sa.String(20), nullable=False),
    sa.Column("type", sa.String(50)),
    sa.Column("fees", sa.String(20)),
    sa.Column("appointment_required", sa.Boolean),
    sa.Column("typology", sa.String(100)),
    sa.Column("remote", sa.Boolean, nullable=False),
    sa.Column("commune_code", sa.String(5)),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("verified_at", UTCDateTime),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("name_text", sa.Text, nullable=False),
    sa.Column("topic_text", sa.Text, nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("name_terms", sa.Text, nullable=False),
    sa.Column("topic_terms", sa.Text, nullable=False),
    sa.Column("body_terms", sa.Text, nullable=False),
    # Multi-valued filters as columns (PostgreSQL text[] with GIN indexes; SQLite JSON, unused:
    # it filters and counts through ``search_facets``).
    *(sa.Column(name, ARRAY_OF_TEXT) for name in FILTER_ARRAYS),
    sa.UniqueConstraint("kind", "entity_id", name="uq_search_documents_entity"),
)

facets = sa.Table(
    "search_facets",
    metadata,
    sa.Column(
        "doc_id",
        DOC_ID,
        sa.ForeignKey("search_documents.doc_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("facet", sa.String(20), primary_key=True),
    sa.Column("value", sa.String(120), primary_key=True),
)

vocabulary = sa.Table(
    "search_vocabulary",
    metadata,
    sa.Column("term", sa.String(64), primary_key=True),
)
