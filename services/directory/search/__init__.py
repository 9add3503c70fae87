"""Directory search: French-aware text analysis, one query model, several backends.

- ``analysis``: folding, French stemming, stop words, synonyms (data), query parsing.
- ``indexing``: keeps the database search tables in sync in the caller's transaction.
- ``sql``: SQLite FTS5 and PostgreSQL full-text backends; ``meili``: Meilisearch backend.
"""
