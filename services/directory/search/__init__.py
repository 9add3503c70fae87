"""Directory search: French-aware text analysis, one query model, several backends.

- ``analysis``: folding, French stemming, stop words, synonyms (data), query parsing.
- ``indexing``: keeps the database search tables in sync in the caller's transaction.
- ``resolve`` (parameters → request), ``engine`` (the flow), ``hydrate`` (the page's entries).
- ``backend``: the interface and the primary backend's factory; ``postgres`` and ``sqlite`` (one
  scored statement each, sharing ``database``); ``meili`` (Meilisearch) fed by ``meili_feed``
  through the outbox job of ``feed`` — the two imported only when ``MEILI_URL`` is set.
"""
