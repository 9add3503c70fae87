"""What the two database backends (``postgres``, ``sqlite``) share: the search flow, the shape
of the statement, the score, distances and reading the rows back.

Each backend answers a search with one SQL statement over ``search_documents`` that returns, as
rows of one shape (``part``, ``entity_id``, ``n``, ``dist2``, ``facet``, ``value``):

- ``p`` rows: the page — every match scored, ordered by the sort key and the id, from the
  keyset cursor on, ``limit`` + 1 rows (the last one only says that more follow);
- one ``c`` row: how many entries match, counted up to ``COUNT_CAP`` + 1 (beyond, ``total`` and
  the facet counts are lower bounds: ``total_exact`` / ``facets_exact`` false);
- ``f`` rows: facet counts over those same first matches.

The score is an integer: for each query clause, the best field one of its alternatives is in
(name > thematiques/structure/publics > description and the rest; the query's own words and
synonyms before typo corrections and prefixes), times ``TEXT_FACTOR``, plus freshness and
capacity. Distances are equirectangular (well under 1 % off within the largest radius), squared
(SQLite may lack a square root), ``NO_DISTANCE`` for an entry without a position.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.search import backend as b
from services.directory.search.analysis import (
    Alternative,
    Clause,
    ParsedQuery,
    allowed_typos,
    typo_candidates,
)
from services.directory.search.backend import Hit, SearchRequest, SearchResult
from services.kernel.db import UTCDateTime

# Matches counted (and faceted) exactly; beyond, counts are lower bounds.
COUNT_CAP = 1000
NO_DISTANCE = 1e12
# Points of a clause found in a field: (the query's words or synonyms, corrections/prefixes).
FIELD_POINTS = {
    "name": (b.NAME_EXACT, b.NAME_FUZZY),
    "topic": (b.TOPIC_EXACT, b.TOPIC_FUZZY),
    "body": (b.BODY_EXACT, b.BODY_FUZZY),
}
FACET_COLUMNS = {
    "categorie": "categories",
    "public": "publics",
    "reception": "receptions",
}
ROW = "part, entity_id, n, dist2, facet, value"


@dataclass(frozen=True)
class FacetCounts:
    """How an engine counts facets over ``capped``: common table expressions (``name AS (…)``)
    and the SELECTs of its ``f`` rows."""

    tables: tuple[str, ...]
    rows: tuple[str, ...]


class Params:
    """The named parameters of one statement, in the order they were added."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.types: dict[str, Any] = {}

    def __call__(self, value: Any, type_: Any = None) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        if type_ is not None:
            self.types[name] = type_
        return f":{name}"

    def time(self, value: datetime) -> str:
        return self(value, UTCDateTime())

    def bind(self, sql: str) -> sa.TextClause:
        statement = sa.text(sql)
        typed = [sa.bindparam(k, self.values[k], type_=t) for k, t in self.types.items()]
        plain = {k: v for k, v in self.values.items() if k not in self.types}
        return statement.bindparams(*typed, **plain)


def typo_probes(query: ParsedQuery) -> list[str]:
    """Words of the query that may be typos: single-word clauses long enough to allow one,
    with no synonyms (a word with synonyms is known)."""
    words = {
        c.single_word
        for c in query.clauses
        if c.single_word and allowed_typos(c.single_word) and len(c.alternatives) <= 2
    }
    return sorted(w for w in words if w)


def corrected(
    query: ParsedQuery, similar: Mapping[str, Sequence[str]]
) -> tuple[ParsedQuery, dict[str, list[str]]]:
    """The query with typo corrections added: for each word the index has never seen
    (``similar``'s keys, with known terms that look like it), the close ones. A word the index
    has never seen is a typo even when its stem exists elsewhere ("domicilation" → stem
    "domicil" of "domicile"; meant "domiciliation")."""
    corrections: dict[str, list[str]] = {}
    for word in sorted(similar):
        found = typo_candidates(word, similar[word])
        if found:
            corrections[word] = found
    return query.with_typos(corrections), corrections


ROW_OF_WORD = "'u', NULL, NULL, NULL, NULL, w"


def unknown_words(p: Params, words: Sequence[str], *, select: str) -> str:
    """SELECT ``select`` for each of these words the vocabulary does not hold. (Looked up as a
    range of one term: the primary key's order; PostgreSQL would otherwise answer the equality
    from the trigram index, a hundred times slower.)"""
    probes = " UNION ALL ".join(f"SELECT CAST({p(word)} AS TEXT) AS w" for word in words)
    return (
        f"SELECT {select} FROM ({probes}) AS probes WHERE NOT EXISTS (SELECT 1 FROM "
        "search_vocabulary v WHERE v.term BETWEEN probes.w AND probes.w)"
    )


def split(clause: Clause) -> list[tuple[bool, list[Alternative]]]:
    """A clause's alternatives, exact ones first: [(exact, alternatives)] (non-empty groups)."""
    groups = [(True, [a for a in clause.alternatives if a.exact])]
    groups.append((False, [a for a in clause.alternatives if not a.exact]))
    return [(exact, alts) for exact, alts in groups if alts]


def quality(p: Params, request: SearchRequest) -> str:
    stale = p.time(request.stale_before)
    return (
        f"(CASE WHEN verified_at >= {stale} THEN {b.VERIFIED_BONUS} "
        f"WHEN updated_at >= {stale} THEN {b.FRESH_BONUS} ELSE 0 END + "
        f"CASE capacity_status WHEN 'accepting' THEN {b.ACCEPTING_BONUS} "
        f"WHEN 'waiting_list' THEN {b.WAITING_BONUS} ELSE 0 END)"
    )


def scales(origin: b.Origin) -> tuple[float, float]:
    """Kilometres per degree of latitude and of longitude around ``origin``."""
    return b.KM_PER_DEGREE, b.KM_PER_DEGREE * math.cos(math.radians(origin.latitude))


def distance2(p: Params, origin: b.Origin | None) -> str:
    """Squared distance to ``origin`` in km² (``NO_DISTANCE`` without position or origin)."""
    if origin is None:
        return p(NO_DISTANCE)
    ky, kx = scales(origin)
    dy = f"((latitude - {p(origin.latitude)}) * {p(ky)})"
    dx = f"((longitude - {p(origin.longitude)}) * {p(kx)})"
    return f"coalesce({dy} * {dy} + {dx} * {dx}, {NO_DISTANCE})"


def box(p: Params, origin: b.Origin, radius_km: float) -> str:
    """Within ``radius_km`` of ``origin``: the bounding box (an index range on the position)
    and the distance itself."""
    ky, kx = scales(origin)
    dlat, dlon = radius_km / ky, radius_km / max(kx, 1e-6)
    return (
        f"latitude BETWEEN {p(origin.latitude - dlat)} AND {p(origin.latitude + dlat)} AND "
        f"longitude BETWEEN {p(origin.longitude - dlon)} AND {p(origin.longitude + dlon)} AND "
        f"{distance2(p, origin)} <= {p(radius_km * radius_km)}"
    )


def statement(
    p: Params,
    request: SearchRequest,
    *,
    conditions: str,
    score: str,
    facets: FacetCounts,
    count_cap: int,
) -> str:
    """The whole statement, in one scan of the matches: ``matched`` (every match, scored, with
    its distance), the page read from it, the count of its first ``count_cap`` + 1 rows
    (``capped``) and, when asked, the facet counts over those (``facets``)."""
    key = "dist2" if request.sort == "distance" else "-score"
    after = ""
    if request.after is not None:
        value, entity_id = p(request.after.key), p(request.after.entity_id, sa.Uuid())
        after = f"WHERE {key} > {value} OR ({key} = {value} AND entity_id > {entity_id}) "
    parts = [
        f"SELECT * FROM (SELECT 'p' AS part, entity_id, score AS n, dist2, NULL AS facet, "
        f"NULL AS value FROM matched {after}ORDER BY {key}, entity_id "
        f"LIMIT {p(request.limit + 1)}) AS page",
        "SELECT 'c', NULL, count(*), NULL, NULL, NULL FROM capped",
    ]
    ctes = [
        f"matched AS MATERIALIZED (SELECT doc_id, entity_id, {score} AS score, "
        f"{distance2(p, request.origin)} AS dist2 FROM search_documents WHERE {conditions})",
        f"capped AS MATERIALIZED (SELECT doc_id FROM matched LIMIT {p(count_cap + 1)})",
    ]
    if request.facets:
        ctes += facets.tables
        parts += facets.rows
    return f"WITH {', '.join(ctes)} " + " UNION ALL ".join(parts)


def result(request: SearchRequest, rows: Sequence[Any], count_cap: int) -> SearchResult:
    """The statement's rows as a result (the page in order, the count, the facet counts)."""
    by_distance = request.sort == "distance"
    page_rows = [row for row in rows if row.part == "p"]
    total = next((int(row.n) for row in rows if row.part == "c"), 0)
    hits = [
        Hit(
            entity_id=_uuid(row.entity_id),
            score=int(row.n),
            distance_km=(
                math.sqrt(row.dist2)
                if request.origin is not None and row.dist2 < NO_DISTANCE
                else None
            ),
            key=float(row.dist2) if by_distance else -float(row.n),
        )
        for row in page_rows[: request.limit]
    ]
    facets: dict[str, dict[str, int]] = {}
    if request.facets:
        counted: dict[str, dict[str, int]] = {name: {} for name in b.FACET_NAMES}
        for row in rows:
            if row.part == "f" and row.value:
                counted[row.facet][row.value] = int(row.n)
        facets = {
            name: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
            for name, values in counted.items()
        }
    exact = total <= count_cap
    return SearchResult(
        hits=hits,
        total=total,
        facets=facets,
        has_more=len(page_rows) > request.limit,
        total_exact=exact,
        facets_exact=exact,
    )


def _uuid(value: Any) -> uuid.UUID:
    """SQLite returns a ``Uuid`` column read by plain SQL as its 32 hex digits."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


class DatabaseBackend:
    """A search in the request's own database session; the engine's subclass says how to find
    typo candidates, match the text, score a clause and filter."""

    name: str
    facets: FacetCounts

    def __init__(self, session: AsyncSession, *, count_cap: int | None = None) -> None:
        self.session = session
        self.count_cap = COUNT_CAP if count_cap is None else count_cap

    async def correct(self, query: ParsedQuery) -> tuple[ParsedQuery, dict[str, list[str]]]:
        """Close known words for the query's words the index has never seen (a search finds
        those words in its own statement; Meilisearch's results are named through this)."""
        probes = typo_probes(query)
        if not probes:
            return query, {}
        p = Params()
        unknown = await self.session.scalars(p.bind(unknown_words(p, probes, select="w")))
        return await self._corrected(query, list(unknown))

    async def _corrected(
        self, query: ParsedQuery, unknown: list[str]
    ) -> tuple[ParsedQuery, dict[str, list[str]]]:
        if not unknown:
            return query, {}
        return corrected(query, await self.similar_terms(unknown))

    async def search(self, request: SearchRequest) -> SearchResult:
        query = request.query
        found, unknown = await self._run(request, query, every=True, probes=typo_probes(query))
        query, corrections = await self._corrected(query, unknown)
        if corrections:
            found, _ = await self._run(request, query, every=True)
        if found.total == 0 and len(query.clauses) > 1:
            # No entry has every word: rank the entries that have some.
            found, _ = await self._run(request, query, every=False)
        found.corrections = corrections
        return found

    def statement(
        self,
        request: SearchRequest,
        query: ParsedQuery,
        *,
        every: bool,
        probes: Sequence[str] = (),
        prefix: str = "",
    ) -> sa.TextClause:
        """The search's one statement: every clause (``every``) or some of them; ``probes``:
        words to look up in the vocabulary (``u`` rows: those it does not hold); ``prefix``:
        e.g. ``EXPLAIN``, to read its plan."""
        p = Params()
        where = self.filters(p, request)
        score = quality(p, request)
        if not query.empty:
            where.append(self.matching(p, query, every=every))
            points = " + ".join(self.clause_points(p, clause) for clause in query.clauses)
            score = f"({points}) * {b.TEXT_FACTOR} + {score}"
        sql = statement(
            p,
            request,
            conditions=" AND ".join(where),
            score=score,
            facets=self.facets,
            count_cap=self.count_cap,
        )
        if probes:
            sql += " UNION ALL " + unknown_words(p, probes, select=ROW_OF_WORD)
        return p.bind(prefix + sql)

    async def _run(
        self,
        request: SearchRequest,
        query: ParsedQuery,
        *,
        every: bool,
        probes: Sequence[str] = (),
    ) -> tuple[SearchResult, list[str]]:
        """The result, and the probe words the vocabulary does not hold."""
        statement = self.statement(request, query, every=every, probes=probes)
        rows = (await self.session.execute(statement)).all()
        unknown = [row.value for row in rows if row.part == "u"]
        return result(request, rows, self.count_cap), unknown

    async def similar_terms(self, words: list[str]) -> dict[str, list[str]]:
        """Known terms that look like each of these words (which the index has never seen)."""
        raise NotImplementedError

    def filters(self, p: Params, request: SearchRequest) -> list[str]:
        raise NotImplementedError

    def matching(self, p: Params, query: ParsedQuery, *, every: bool) -> str:
        """The documents that have every clause (``every``) or some."""
        raise NotImplementedError

    def clause_points(self, p: Params, clause: Clause) -> str:
        """A clause's points: the best field where one of its alternatives is."""
        raise NotImplementedError
