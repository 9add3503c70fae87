"""SQLite search backend (embedded mode): one scored statement over ``search_documents``.

Text: ``search_fts``, an FTS5 table (``unicode61 remove_diacritics 2``, prefix indexes) with one
column per field — ``name``, ``topic``, ``body`` — mirroring each document's analysed terms
(triggers keep it in sync). A query is an FTS5 expression of those terms, quoted (nothing in it
is syntax): each clause an OR of its alternatives (the words, their synonyms, typo corrections,
a prefix as ``"word"*``), the clauses ANDed — or ORed when no document has them all. A clause's
points come from the same index with a column filter (``{name} : (…)`` is "in the name"), best
points first: SQLite evaluates each such set once per statement.

Multi-valued filters and facet counts go through ``search_facets`` (document, facet, value);
typo corrections through ``search_vocabulary_trigrams`` (FTS5 ``trigram``).
"""

from __future__ import annotations

import sqlalchemy as sa

from services.directory.search import database as d
from services.directory.search.analysis import Alternative, Clause, ParsedQuery, trigrams
from services.directory.search.backend import SearchRequest

# Facet counts over the first matches (``statement.statement``), from ``search_facets``.
FACETS = d.FacetCounts(
    tables=(),
    rows=(
        "SELECT * FROM (SELECT 'f', NULL, count(*), NULL, f.facet, f.value FROM search_facets f "
        "JOIN capped c ON c.doc_id = f.doc_id "
        "WHERE f.facet IN ('categorie', 'public', 'reception', 'type', 'fees') "
        "GROUP BY f.facet, f.value)",
    ),
)


class SqliteSearchBackend(d.DatabaseBackend):
    name = "sqlite"
    facets = FACETS

    async def similar_terms(self, words: list[str]) -> dict[str, list[str]]:
        similar: dict[str, list[str]] = {}
        for word in words:
            grams = " OR ".join(f'"{g}"' for g in trigrams(word) if " " not in g)
            if not grams:
                continue
            rows = await self.session.scalars(
                sa.text(
                    "SELECT term FROM search_vocabulary_trigrams WHERE search_vocabulary_trigrams "
                    "MATCH :grams ORDER BY rank LIMIT 100"
                ),
                {"grams": grams},
            )
            similar[word] = list(rows)
        return similar

    def matching(self, p: d.Params, query: ParsedQuery, *, every: bool) -> str:
        joiner = " AND " if every else " OR "
        return _matching(p, joiner.join(_clause(c.alternatives) for c in query.clauses))

    def clause_points(self, p: d.Params, clause: Clause) -> str:
        whens: list[str] = []
        for field in d.FIELD_POINTS:
            for exact, alternatives in d.split(clause):
                points = d.FIELD_POINTS[field][0 if exact else 1]
                condition = _matching(p, f"{{{field}}} : {_clause(alternatives)}")
                whens.append(f"WHEN {condition} THEN {points}")
        return f"CASE {' '.join(whens)} ELSE 0 END"

    def filters(self, p: d.Params, request: SearchRequest) -> list[str]:
        def values(chosen: frozenset[str] | set[str]) -> str:
            return "(" + ", ".join(p(v) for v in sorted(chosen)) + ")"

        def has(facet: str, chosen: frozenset[str] | set[str]) -> str:
            return (
                f"doc_id IN (SELECT doc_id FROM search_facets WHERE facet = '{facet}' "
                f"AND value IN {values(chosen)})"
            )

        where = [f"kind = {p(request.kind)}"]
        visible = f"status IN {values(request.statuses)}"
        if request.own_structure is not None and request.own_statuses:
            own = p(request.own_structure, sa.Uuid())
            own_statuses = values(request.own_statuses)
            visible = f"({visible} OR (structure_id = {own} AND status IN {own_statuses}))"
        where.append(visible)
        for facet, chosen in (
            ("thematique", request.thematiques),
            ("public", request.publics),
            ("reception", request.reception_modes),
            ("network", request.networks),
        ):
            if chosen:
                where.append(has(facet, chosen))
        for column, chosen in (
            ("type", request.types),
            ("fees", request.fees),
            ("typology", request.typologies),
            ("capacity_status", request.capacity),
        ):
            if chosen:
                where.append(f"{column} IN {values(chosen)}")
        if request.appointment_required is not None:
            where.append(f"appointment_required = {int(request.appointment_required)}")
        if request.exclude_stale:
            stale = p.time(request.stale_before)
            where.append(f"(updated_at >= {stale} OR verified_at >= {stale})")
        if request.zones is not None:
            where.append(has("zone", request.zones))
        if request.origin is not None and request.radius_km is not None:
            # A remote service (à distance) is reachable from anywhere it is eligible.
            eligible = has("zone", request.zones if request.zones is not None else {"france"})
            near = d.box(p, request.origin, request.radius_km)
            # Two sets of ids rather than one OR, so that each side reads its own index (the
            # position, the eligibility facets).
            kind = p(request.kind)
            where.append(
                f"doc_id IN (SELECT doc_id FROM search_documents WHERE kind = {kind} AND {near} "
                f"UNION ALL SELECT doc_id FROM search_documents WHERE kind = {kind} "
                f"AND remote = 1 AND {eligible})"
            )
        return where


def _matching(p: d.Params, expression: str) -> str:
    """Documents matching an FTS5 expression."""
    return f"doc_id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH {p(expression)})"


def _alternative(alt: Alternative) -> str:
    # Terms are [a-z0-9]+ (analysis output): quoted, each is a plain FTS5 string.
    if alt.prefix:
        return f'"{alt.terms[0]}"*'
    return "(" + " AND ".join(f'"{t}"' for t in alt.terms) + ")"


def _clause(alternatives: tuple[Alternative, ...] | list[Alternative]) -> str:
    return "(" + " OR ".join(_alternative(a) for a in alternatives) + ")"
