"""Database search backends: SQLite FTS5 and PostgreSQL full text, over the search tables.

Candidates come from the engine's text index over the same analysed terms (FTS5 ``MATCH``; a
``tsvector`` of exact lexemes ``@@`` a ``tsquery`` of exact lexemes), typo corrections from the
vocabulary's trigram index (FTS5 ``trigram``; pg_trgm). Ranking is one SQL expression shared by
both engines: for each query clause, the best field it matches (name > thematiques/structure >
description, exact > typo/prefix), plus freshness and capacity. Distances are equirectangular
(accurate to well under 1 % within the maximum radius) and computed the same way on both.
"""

from __future__ import annotations

import math
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.directory.search import backend as b
from services.directory.search import tables
from services.directory.search.analysis import (
    Alternative,
    Clause,
    ParsedQuery,
    allowed_typos,
    trigrams,
    typo_candidates,
)
from services.directory.search.backend import Hit, SearchRequest, SearchResult

D = tables.documents
F = tables.facets
V = tables.vocabulary
NO_DISTANCE = 1e12
# Matches counted (and faceted) exactly; beyond, ``total`` and facet counts are lower bounds
# (``total_exact`` / ``facets_exact`` false), like Meilisearch's estimated totals.
COUNT_CAP = 1000
# Memory of each bitmap, sort or hash of a search statement (PostgreSQL ``work_mem``).
SEARCH_WORK_MEM = "16MB"
# Best quality bonus a document can add to its text score.
MAX_QUALITY = b.VERIFIED_BONUS + b.ACCEPTING_BONUS


class SqlSearchBackend:
    """Search in the request's own database session (SQLite or PostgreSQL)."""

    def __init__(self, session: AsyncSession, *, count_cap: int | None = None) -> None:
        self.session = session
        self.count_cap = COUNT_CAP if count_cap is None else count_cap
        bind = session.bind
        self.name = bind.dialect.name if bind is not None else "sqlite"
        self.postgres = self.name == "postgresql"

    # --- typos --------------------------------------------------------------------------

    async def correct(self, query: ParsedQuery) -> tuple[ParsedQuery, dict[str, list[str]]]:
        """Replace nothing, add close known words for query words the index has never seen."""
        words = {
            c.single_word
            for c in query.clauses
            if c.single_word and allowed_typos(c.single_word) and len(c.alternatives) <= 2
        }
        words.discard(None)
        if not words:
            return query, {}
        # A word the index has never seen is a typo even when its stem exists elsewhere
        # ("domicilation" → stem "domicil" of "domicile"; meant "domiciliation").
        probes = {w for w in words if w}
        if self.postgres:
            # Equality is also a trigram index operator, and PostgreSQL may take that index
            # (7 ms at 14k terms) over the primary key (0.1 ms): no bitmap scan, so no GIN,
            # until ``_similar_terms`` or ``_configure`` turn them back on.
            await self.session.execute(
                sa.text("SELECT set_config('enable_bitmapscan', 'off', true)")
            )
        known = set(await self.session.scalars(sa.select(V.c.term).where(V.c.term.in_(probes))))
        corrections: dict[str, list[str]] = {}
        for word in sorted(w for w in words if w and w not in known):
            candidates = await self._similar_terms(word)
            found = typo_candidates(word, candidates)
            if found:
                corrections[word] = found
        return query.with_typos(corrections), corrections

    async def _similar_terms(self, word: str) -> list[str]:
        if self.postgres:
            await self.session.execute(
                sa.text(
                    "SELECT set_config('pg_trgm.similarity_threshold', '0.2', true), "
                    "set_config('enable_bitmapscan', 'on', true)"
                )
            )
            terms = await self.session.scalars(
                sa.select(V.c.term)
                .where(V.c.term.op("%")(word))
                .order_by(sa.func.similarity(V.c.term, word).desc(), V.c.term)
                .limit(100)
            )
            return list(terms)
        grams = [g for g in trigrams(word) if " " not in g]
        if not grams:
            return []
        match = " OR ".join(f'"{g}"' for g in grams)
        rows = await self.session.execute(
            sa.text(
                "SELECT term FROM search_vocabulary_trigrams WHERE search_vocabulary_trigrams "
                "MATCH :match ORDER BY rank LIMIT 100"
            ),
            {"match": match},
        )
        return [row[0] for row in rows]

    # --- search -------------------------------------------------------------------------

    async def search(self, request: SearchRequest) -> SearchResult:
        query, corrections = await self.correct(request.query)
        conditions = self._filters(request)
        text = self._text_condition(query, all_clauses=True)
        if text is None:
            result = await self._run(
                request, query, conditions, _quality(request), all_clauses=None
            )
        else:
            score = _score(query, request)
            dense = await self._dense_scan(request, query, conditions)
            result = await self._run(
                request, query, [*conditions, text], score, all_clauses=True, counted=dense
            )
            if result.total == 0 and len(query.clauses) > 1:
                # No entry has every word: rank entries by how many words they have.
                loose = self._text_condition(query, all_clauses=False)
                assert loose is not None
                result = await self._run(
                    request, query, [*conditions, loose], score, all_clauses=False
                )
        result.corrections = corrections
        return result

    async def _configure(self, *, text: bool) -> None:
        if self.postgres:
            # JIT compilation costs more than it saves on these index-driven statements; and the
            # planner prices ``terms @@ query`` as cheap, so for a common word it prefers a
            # sequential scan that builds every document's tsvector over the GIN index. With
            # the default 4 MB of work_mem, the bitmaps of common words and filters go lossy at
            # 1M documents: every row of their pages is rechecked, its tsvector rebuilt
            # (measured: 2.2 s instead of 0.4 s for one search).
            await self.session.execute(
                sa.text(
                    "SELECT set_config('jit', 'off', true), "
                    "set_config('enable_seqscan', :seqscan, true), "
                    "set_config('enable_bitmapscan', 'on', true), "
                    "set_config('work_mem', :work_mem, true)"
                ),
                {"seqscan": "off" if text else "on", "work_mem": SEARCH_WORK_MEM},
            )

    async def _dense_scan(
        self,
        request: SearchRequest,
        query: ParsedQuery,
        conditions: list[ColumnElement[bool]],
    ) -> list[ColumnElement[bool]] | None:
        """PostgreSQL, a query whose words are in a large share of the documents and no other
        filter: the conditions of a sequential scan of the table's first pages that finds the
        same first ``count_cap`` + 1 matches, in the same (physical) order, as the text index
        would (the words tested on the terms themselves), without building the index's bitmap
        of every match (which grows with the catalogue: "caf" at 1M documents, 61 ms instead
        of 18 ms). None when the words are not common enough to be found that soon."""
        if not self.postgres or len(conditions) > 2 or request.after is not None:
            return None
        statistics = await _term_statistics(self.session)
        density = _density(query, statistics.frequencies)
        # Worth it when the scan reads fewer rows than the index's bitmap holds entries,
        # a row read costing SCAN_COST_RATIO entries: only for the largest catalogues.
        scanned = (self.count_cap + 1) / max(density, 1e-9)
        if density < DENSE_SHARE or scanned * SCAN_COST_RATIO > density * statistics.rows:
            return None
        rows = SCAN_MARGIN * (self.count_cap + 1) / density
        pages = math.ceil(rows / statistics.rows_per_page) + 1
        # A TID range scan: the table's first pages, in order (``pages`` is an int).
        first_pages = sa.literal_column("ctid").op("<", return_type=sa.Boolean)(
            sa.literal_column(f"'({pages},0)'::tid")
        )
        return [*conditions, first_pages, _terms_match(query)]

    async def _run(
        self,
        request: SearchRequest,
        query: ParsedQuery,
        conditions: list[ColumnElement[bool]],
        score: ColumnElement[int],
        *,
        all_clauses: bool | None,
        counted: list[ColumnElement[bool]] | None = None,
    ) -> SearchResult:
        """One statement evaluates (and scores) the matched set, stopping after ``count_cap``
        + 1 entries, in a materialised CTE; the page, the total and the facet counts are read
        from it. When the matched set is larger, that total and those counts are lower bounds
        (flagged), and the page comes from :meth:`_top`, which ranks the best field tier first
        instead of scoring every match. ``counted``: other conditions that find the same first
        matches sooner (:meth:`_dense_scan`), tried first; if they find too few, the statement
        runs again with ``conditions``."""
        text = all_clauses is not None
        await self._configure(text=text)
        distance = _distance2(request.origin)
        dist2 = (distance if distance is not None else sa.literal(NO_DISTANCE)).label("dist2")
        rows: Sequence[Any] = []
        if counted is not None:
            rows = await self._matched(request, counted, score, dist2)
            if _total(rows) <= self.count_cap:
                rows = []  # too few so soon: they say nothing of the whole set
        if not rows:
            rows = await self._matched(request, conditions, score, dist2)
        total = _total(rows)
        exact = total <= self.count_cap
        if exact:
            page_rows: list[Any] = [row for row in rows if row.part == "p"]
        else:
            page_rows = await self._top(request, query, conditions, score, dist2, all_clauses)
        # enable_seqscan stays off for the rest of this (read-only) transaction: what follows
        # are primary-key lookups, and a round trip costs more than it would change.
        page_rows.sort(
            key=lambda row: (
                float(row.dist2) if request.sort == "distance" else -float(row.n),
                row.entity_id,
            )
        )
        hits_out = [
            Hit(
                entity_id=row.entity_id,
                score=int(row.n),
                distance_km=(
                    math.sqrt(row.dist2)
                    if request.origin is not None and row.dist2 < NO_DISTANCE
                    else None
                ),
                key=float(row.dist2) if request.sort == "distance" else -float(row.n),
            )
            for row in page_rows[: request.limit]
        ]
        facets: dict[str, dict[str, int]] = {}
        if request.facets:
            facets = {name: {} for name in b.FACET_NAMES}
            by_facet = {v: k for k, v in b.FACET_NAMES.items()}
            for row in rows:
                if row.part == "f" and row.value:
                    facets[by_facet[row.facet]][row.value] = int(row.n)
            facets = {
                name: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
                for name, values in facets.items()
            }
        return SearchResult(
            hits=hits_out,
            total=total,
            facets=facets,
            has_more=len(page_rows) > request.limit,
            total_exact=exact,
            facets_exact=exact,
        )

    async def _matched(
        self,
        request: SearchRequest,
        conditions: list[ColumnElement[bool]],
        score: ColumnElement[int],
        dist2: Any,
    ) -> Sequence[Any]:
        """The first ``count_cap`` + 1 matches (a materialised CTE) and, read from them in the
        same statement: the page (part ``p``), their count (``c``), their facet counts
        (``f``)."""
        columns: list[Any] = [
            D.c.doc_id.label("doc_id"),
            D.c.entity_id.label("entity_id"),
            score.label("score"),
            dist2,
        ]
        if self.postgres and request.facets:
            columns += [D.c.categories, D.c.publics, D.c.receptions, D.c.type, D.c.fees]
        hits = (
            sa.select(*columns)
            .where(*conditions)
            .limit(self.count_cap + 1)
            .cte("hits")
            .prefix_with("MATERIALIZED")
        )
        key = hits.c.dist2 if request.sort == "distance" else -hits.c.score
        page = sa.select(
            sa.literal("p").label("part"),
            hits.c.entity_id.label("entity_id"),
            hits.c.score.label("n"),
            hits.c.dist2.label("dist2"),
            sa.null().label("facet"),
            sa.null().label("value"),
        )
        if request.after is not None:
            page = page.where(_after(request, key, hits.c.entity_id))
        page_sq = page.order_by(key, hits.c.entity_id).limit(request.limit + 1).subquery("page")
        parts: list[Any] = [
            sa.select(*page_sq.c),
            sa.select(
                sa.literal("c"),
                sa.null(),
                sa.func.count(),
                sa.null(),
                sa.null(),
                sa.null(),
            ).select_from(hits),
        ]
        if request.facets:
            parts += self._facet_parts(hits)
        return (await self.session.execute(sa.union_all(*parts))).all()

    def _facet_parts(self, hits: Any) -> list[Any]:
        """Facet counts over the matched set (``hits``): PostgreSQL unnests the documents' own
        filter arrays; SQLite joins ``search_facets`` (primary-key order, per document)."""
        if not self.postgres:
            wanted = F.c.facet.in_(list(b.FACET_NAMES.values()))
            return [
                sa.select(
                    sa.literal("f"), sa.null(), sa.func.count(), sa.null(), F.c.facet, F.c.value
                )
                .select_from(F.join(hits, F.c.doc_id == hits.c.doc_id))
                .where(wanted)
                .group_by(F.c.facet, F.c.value)
            ]
        parts: list[Any] = []
        for facet, column in (
            ("categorie", "categories"),
            ("public", "publics"),
            ("reception", "receptions"),
        ):
            value = (
                sa.func.unnest(hits.c[column]).table_valued("value").render_derived(f"{column}_v")
            )
            parts.append(
                sa.select(
                    sa.literal("f"),
                    sa.null(),
                    sa.func.count(),
                    sa.null(),
                    sa.literal(facet),
                    value.c.value,
                )
                .select_from(hits.join(value, sa.true()))
                .group_by(value.c.value)
            )
        for facet, column in (("type", "type"), ("fees", "fees")):
            parts.append(
                sa.select(
                    sa.literal("f"),
                    sa.null(),
                    sa.func.count(),
                    sa.null(),
                    sa.literal(facet),
                    hits.c[column],
                )
                .select_from(hits)
                .where(hits.c[column].is_not(None))
                .group_by(hits.c[column])
            )
        return parts

    async def _top(
        self,
        request: SearchRequest,
        query: ParsedQuery,
        conditions: list[ColumnElement[bool]],
        score: ColumnElement[int],
        dist2: Any,
        all_clauses: bool | None,
    ) -> list[Any]:
        """The page (``limit`` + 1 rows) of a large matched set, exactly as ranking every match
        would give it. By relevance, the documents where some query word is in the name (then
        in the name or the thematiques/structure fields) are ranked first: when the last row
        of that tier scores above the best score a document outside it could reach, no other
        document can enter the page. By distance, rings around the origin (2, 8, 32 km) do the
        same. Otherwise every match is scored."""
        tiers: list[tuple[ColumnElement[bool], int, bool]] = []
        if all_clauses is not None and request.sort == "relevance":
            rows = await self._perfect(request, query, conditions[:-1], score, dist2)
            if rows is not None:
                return rows
            if len(query.clauses) > 1:
                # Every word in the name: a small tier for several common words (each word
                # alone in the name is a large one).
                every = self._tier_condition(query, ("name",), all_clauses, every_clause=True)
                tiers.append((every, _bound_every_in_name(query), True))
            tiers += [
                (
                    self._tier_condition(query, fields, all_clauses),
                    _bound(query, fields),
                    len(query.clauses) == 1,
                )
                for fields in (("name",), ("name", "topic"))
            ]
        if request.sort == "distance" and request.origin is not None:
            # Nearest first: the documents within a small ring around the origin, growing it;
            # once a ring holds a page, no document outside it (farther) can enter the page.
            for ring in _rings(request):
                near = [*conditions, _within(request.origin, ring)]
                rows = await self._page(request, near, score, dist2)
                if len(rows) > request.limit:
                    return rows
        for tier, bound, implies_text in tiers:
            # SQLite: the tier's MATCH holds the whole text condition (the last condition),
            # so FTS5 returns the tier's documents only. PostgreSQL ANDs the two GIN bitmaps,
            # unless the tier implies the text condition (one query word, or every word in the
            # name), whose bitmap (every document with a word anywhere) would cost more.
            if self.postgres and not implies_text:
                tiered = [*conditions, tier]
            else:
                tiered = [*conditions[:-1], tier]
            rows = await self._page(request, tiered, score, dist2)
            if len(rows) > request.limit and int(rows[-1].n) > bound:
                return rows
        return await self._page(request, conditions, score, dist2)

    async def _perfect(
        self,
        request: SearchRequest,
        query: ParsedQuery,
        filters: list[ColumnElement[bool]],
        score: ColumnElement[int],
        dist2: Any,
    ) -> list[Any] | None:
        """The page when it holds only documents of the best score a document can reach
        (every query word in the name, verified, accepting), else None. Those rank
        first and tie on the id, so the page is the first of them in id order: read in id
        order (the unique index), at most ``PERFECT_WINDOW`` documents from the cursor, with
        no text index at all. A common word's page costs the same at 100k and 1M documents,
        where scoring its whole name tier grows with the catalogue."""
        perfect = sum(_best_points(clause) for clause in query.clauses)
        perfect = perfect * b.TEXT_FACTOR + MAX_QUALITY
        after_id = None
        if request.after is not None:
            if request.after.key != -perfect:
                return None  # the cursor is past them
            after_id = request.after.entity_id
        # The window: ids from the cursor up to the PERFECT_WINDOW-th, an index range.
        window = [D.c.kind == request.kind]
        if after_id is not None:
            window.append(D.c.entity_id > after_id)
        last = (
            sa.select(D.c.entity_id)
            .where(*window)
            .order_by(D.c.entity_id)
            .offset(PERFECT_WINDOW - 1)
            .limit(1)
            .correlate(None)
            .scalar_subquery()
        )
        window.append(D.c.entity_id <= sa.func.coalesce(last, LAST_UUID))
        best = [_field_has(D.c.name_terms, _best_alternatives(clause)) for clause in query.clauses]
        best += [
            D.c.verified_at >= request.stale_before,
            D.c.capacity_status == "accepting",
        ]
        statement = (
            sa.select(D.c.entity_id.label("entity_id"), score.label("n"), dist2)
            .where(*window, *best, *filters)
            .order_by(D.c.entity_id)
            .limit(request.limit + 1)
        )
        rows = list((await self.session.execute(statement)).all())
        if len(rows) <= request.limit or any(int(row.n) != perfect for row in rows):
            return None
        return rows

    async def _page(
        self,
        request: SearchRequest,
        conditions: list[ColumnElement[bool]],
        score: ColumnElement[int],
        dist2: Any,
    ) -> list[Any]:
        matched = (
            sa.select(D.c.entity_id.label("entity_id"), score.label("n"), dist2)
            .where(*conditions)
            .subquery("matched")
        )
        key = matched.c.dist2 if request.sort == "distance" else -matched.c.n
        page = sa.select(matched.c.entity_id, matched.c.n, matched.c.dist2)
        if request.after is not None:
            page = page.where(_after(request, key, matched.c.entity_id))
        page = page.order_by(key, matched.c.entity_id).limit(request.limit + 1)
        rows = list((await self.session.execute(page)).all())
        return rows

    # --- conditions ---------------------------------------------------------------------

    def _filters(self, request: SearchRequest) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [D.c.kind == request.kind]
        visible: ColumnElement[bool] = D.c.status.in_(sorted(request.statuses))
        if request.own_structure is not None and request.own_statuses:
            visible = sa.or_(
                visible,
                sa.and_(
                    D.c.structure_id == request.own_structure,
                    D.c.status.in_(sorted(request.own_statuses)),
                ),
            )
        conditions.append(visible)
        for facet, values in (
            ("thematique", request.thematiques),
            ("public", request.publics),
            ("reception", request.reception_modes),
            ("network", request.networks),
        ):
            if values:
                conditions.append(self._has_facet(facet, values))
        if request.types:
            conditions.append(D.c.type.in_(sorted(request.types)))
        if request.fees:
            conditions.append(D.c.fees.in_(sorted(request.fees)))
        if request.typologies:
            conditions.append(D.c.typology.in_(sorted(request.typologies)))
        if request.capacity:
            conditions.append(D.c.capacity_status.in_(sorted(request.capacity)))
        if request.appointment_required is not None:
            conditions.append(D.c.appointment_required.is_(request.appointment_required))
        if request.exclude_stale:
            conditions.append(
                sa.or_(
                    D.c.updated_at >= request.stale_before, D.c.verified_at >= request.stale_before
                )
            )
        eligible = self._has_facet("zone", request.zones) if request.zones is not None else None
        if eligible is not None:
            conditions.append(eligible)
        if request.origin is not None and request.radius_km is not None:
            near = _within(request.origin, request.radius_km)
            # A remote service (à distance) is reachable from anywhere it is eligible.
            remote_ok = sa.and_(
                D.c.remote.is_(True),
                eligible if eligible is not None else self._has_facet("zone", {"france"}),
            )
            # As two id sets rather than one OR: each side can use its index (the latitude band,
            # the eligibility facets) instead of a scan of every document.
            conditions.append(
                D.c.doc_id.in_(
                    sa.union_all(
                        sa.select(D.c.doc_id).where(D.c.kind == request.kind, near).correlate(None),
                        sa.select(D.c.doc_id)
                        .where(D.c.kind == request.kind, remote_ok)
                        .correlate(None),
                    )
                )
            )
        return conditions

    def _has_facet(self, facet: str, values: frozenset[str] | set[str]) -> ColumnElement[bool]:
        if self.postgres:
            column = next(c for c, f in tables.FILTER_ARRAYS.items() if f == facet)
            wanted = sa.bindparam(None, sorted(values), type_=postgresql.ARRAY(sa.Text()))
            return D.c[column].op("&&", return_type=sa.Boolean)(wanted)
        return D.c.doc_id.in_(
            sa.select(F.c.doc_id).where(F.c.facet == facet, F.c.value.in_(sorted(values)))
        )

    def _tier_condition(
        self,
        query: ParsedQuery,
        fields: tuple[str, ...],
        all_clauses: bool,
        *,
        every_clause: bool = False,
    ) -> ColumnElement[bool]:
        """Some query word (any alternative of any clause) is in one of these fields, or with
        ``every_clause`` every clause is. SQLite: the text condition too (one FTS5 query: the
        text match and a column filter)."""
        alternatives = [a for c in query.clauses for a in c.alternatives]
        if self.postgres:
            if every_clause:
                expression = " & ".join(_tsquery_clause(c) for c in query.clauses)
            else:
                expression = " | ".join(_tsquery_alternative(a) for a in alternatives)
            tsv: ColumnElement[Any] = sa.literal_column(TIER_TSVECTORS[fields])
            return tsv.op("@@")(_tsquery(expression))
        columns = " ".join(fields)
        if every_clause:
            tier = " AND ".join(_fts_clause(c) for c in query.clauses)
        else:
            tier = " OR ".join(f"({_fts_alternative(a)})" for a in alternatives)
        return _fts_match(f"({_fts_expression(query, all_clauses)}) AND {{{columns}}} : ({tier})")

    def _text_condition(
        self, query: ParsedQuery, *, all_clauses: bool
    ) -> ColumnElement[bool] | None:
        if query.empty:
            return None
        if self.postgres:
            joiner = " & " if all_clauses else " | "
            expression = joiner.join(_tsquery_clause(c) for c in query.clauses)
            tsv: ColumnElement[Any] = sa.literal_column(TERMS_TSVECTOR)
            return tsv.op("@@")(_tsquery(expression))
        return _fts_match(_fts_expression(query, all_clauses))


def _fts_expression(query: ParsedQuery, all_clauses: bool) -> str:
    joiner = " AND " if all_clauses else " OR "
    return joiner.join(_fts_clause(c) for c in query.clauses)


def _fts_match(expression: str) -> ColumnElement[bool]:
    fts: sa.Select[Any] = (
        sa.select(sa.literal_column("rowid"))
        .select_from(sa.table("search_fts"))
        .where(sa.text("search_fts MATCH :fts").bindparams(fts=expression))
    )
    return D.c.doc_id.in_(fts)


RINGS_KM = (2.0, 8.0, 32.0)


def _rings(request: SearchRequest) -> list[float]:
    """Ring radii worth trying: inside the search radius, beyond the previous page's last."""
    limit = request.radius_km if request.radius_km is not None else math.inf
    after = request.after.key if request.after is not None else -1.0
    return [r for r in RINGS_KM if r < limit and r * r > after]


def _after(request: SearchRequest, key: Any, entity_id: Any) -> ColumnElement[bool]:
    assert request.after is not None
    return sa.or_(
        key > request.after.key,
        sa.and_(key == request.after.key, entity_id > request.after.entity_id),
    )


def _total(rows: Sequence[Any]) -> int:
    return next((int(row.n) for row in rows if row.part == "c"), 0)


# ``_dense_scan``: tried when the query's words are in at least this share of the documents
# (PostgreSQL's own statistics of the terms index), over enough pages for SCAN_MARGIN times the
# documents that share predicts are needed.
DENSE_SHARE = 0.05
SCAN_MARGIN = 2.0
# Measured at 100k and 1M documents: a row read and tested costs ~6 µs, an entry of the text
# index's bitmap ~0.3 µs.
SCAN_COST_RATIO = 20.0
STATISTICS_SECONDS = 300.0


@dataclass(frozen=True)
class TermStatistics:
    """Share of the documents each common term is in (``most_common_elems`` of the terms
    index, what the planner itself knows), and documents per table page."""

    frequencies: dict[str, float]
    rows: float
    rows_per_page: float
    read_at: float


_statistics: weakref.WeakKeyDictionary[Any, TermStatistics] = weakref.WeakKeyDictionary()


async def _term_statistics(session: AsyncSession) -> TermStatistics:
    """Read at most every ``STATISTICS_SECONDS`` per engine (ANALYZE refreshes them)."""
    bind = session.get_bind()
    found = _statistics.get(bind)
    if found is not None and time.monotonic() - found.read_at < STATISTICS_SECONDS:
        return found
    row = (
        await session.execute(
            sa.text(
                "SELECT s.most_common_elems::text::text[] AS terms, "
                "s.most_common_elem_freqs AS shares, c.reltuples AS rows, c.relpages AS pages "
                "FROM pg_class c LEFT JOIN pg_stats s "
                "ON s.schemaname = current_schema() AND s.tablename = :index "
                "WHERE c.oid = to_regclass('search_documents')"
            ),
            {"index": TERMS_INDEX},
        )
    ).one()
    terms = row.terms or []
    rows = max(float(row.rows), 0.0)  # -1 until the table is first analysed
    found = TermStatistics(
        frequencies=dict(zip(terms, (row.shares or [])[: len(terms)], strict=False)),
        rows=rows,
        rows_per_page=max(rows / max(row.pages, 1), 1.0),
        read_at=time.monotonic(),
    )
    _statistics[bind] = found
    return found


def _density(query: ParsedQuery, frequencies: dict[str, float]) -> float:
    """Share of the documents expected to have every clause: per clause its most common
    alternative (an alternative of several terms: the product of theirs; a prefix: its exact
    term's), clauses taken as independent. Terms the statistics do not list count as rare."""
    density = 1.0
    for clause in query.clauses:
        best = 0.0
        for alt in clause.alternatives:
            share = 1.0
            for term in alt.terms:
                share *= frequencies.get(term, 0.0)
            best = max(best, share)
        density *= best
    return density


def _terms_match(query: ParsedQuery) -> ColumnElement[bool]:
    """The text condition tested on the terms themselves (no index): the same documents as
    ``@@`` on their tsvector, since every term is a space-delimited run of [a-z0-9]."""
    terms = D.c.name_terms + D.c.topic_terms + D.c.body_terms
    return sa.and_(*(_field_has(terms, list(c.alternatives)) for c in query.clauses))


# Documents read, in id order, looking for a page of best-score documents (``_perfect``).
PERFECT_WINDOW = 2000
LAST_UUID = uuid.UUID(int=(1 << 128) - 1)


def _best_alternatives(clause: Clause) -> list[Alternative]:
    """The alternatives that give a clause its best points: the exact ones, if any."""
    exact = [a for a in clause.alternatives if a.exact]
    return exact or list(clause.alternatives)


def _best_points(clause: Clause) -> int:
    return b.NAME_EXACT if clause.has_exact else b.NAME_FUZZY


def _bound_every_in_name(query: ParsedQuery) -> int:
    """The best score a document can reach when some query word is not in its name (that
    word at best in the thematiques/structure fields, every other one in the name)."""
    names = [_best_points(c) for c in query.clauses]
    topics = [b.TOPIC_EXACT if c.has_exact else b.TOPIC_FUZZY for c in query.clauses]
    best = max(sum(names) - name + topic for name, topic in zip(names, topics, strict=True))
    return best * b.TEXT_FACTOR + MAX_QUALITY


def _bound(query: ParsedQuery, fields: tuple[str, ...]) -> int:
    """The best score a document can reach when no query word is in ``fields``."""
    best = 0
    for clause in query.clauses:
        exact = clause.has_exact
        if "topic" not in fields:
            best += b.TOPIC_EXACT if exact else b.TOPIC_FUZZY
        else:
            best += b.BODY_EXACT if exact else b.BODY_FUZZY
    return best * b.TEXT_FACTOR + MAX_QUALITY


# The analysed terms of every field, of the name, and of the name + topic fields, as tsvectors of
# exact lexemes (no parser): the expressions of the GIN indexes created by the migrations,
# verbatim (the planner matches index expressions by their form).
TERMS_INDEX = "ix_search_documents_terms"
TERMS_TSVECTOR = (
    "array_to_tsvector(array_remove(string_to_array("
    "name_terms || topic_terms || body_terms, ' '), ''))"
)
TIER_TSVECTORS = {
    ("name",): "array_to_tsvector(array_remove(string_to_array(name_terms, ' '), ''))",
    ("name", "topic"): (
        "array_to_tsvector(array_remove(string_to_array(name_terms || topic_terms, ' '), ''))"
    ),
}


def _fts_alternative(alt: Alternative) -> str:
    # Terms are [a-z0-9]+ (analysis output): quoting makes every one a plain FTS5 string.
    if alt.prefix:
        return f'"{alt.terms[0]}"*'
    return " AND ".join(f'"{t}"' for t in alt.terms)


def _fts_clause(clause: Clause) -> str:
    return "(" + " OR ".join(f"({_fts_alternative(a)})" for a in clause.alternatives) + ")"


def _tsquery(expression: str) -> ColumnElement[Any]:
    """A tsquery of quoted lexemes, taken verbatim (no parser, no dictionary)."""
    return sa.cast(sa.literal(expression, sa.Text), postgresql.TSQUERY)


def _tsquery_alternative(alt: Alternative) -> str:
    # Terms are [a-z0-9]+ (analysis output, stems): quoted, each is one exact lexeme.
    if alt.prefix:
        return f"'{alt.terms[0]}':*"
    return "(" + " & ".join(f"'{t}'" for t in alt.terms) + ")"


def _tsquery_clause(clause: Clause) -> str:
    return "(" + " | ".join(_tsquery_alternative(a) for a in clause.alternatives) + ")"


def _field_has(column: ColumnElement[Any], alternatives: list[Alternative]) -> ColumnElement[bool]:
    options = []
    for alt in alternatives:
        patterns = [f" {t}" if alt.prefix else f" {t} " for t in alt.terms]
        options.append(sa.and_(*[column.contains(p) for p in patterns]))
    return sa.or_(*options) if options else sa.false()


def _clause_score(clause: Clause) -> ColumnElement[int]:
    exact = [a for a in clause.alternatives if a.exact]
    fuzzy = [a for a in clause.alternatives if not a.exact]
    whens: list[tuple[ColumnElement[bool], int]] = []
    for column, exact_points, fuzzy_points in (
        (D.c.name_terms, b.NAME_EXACT, b.NAME_FUZZY),
        (D.c.topic_terms, b.TOPIC_EXACT, b.TOPIC_FUZZY),
        (D.c.body_terms, b.BODY_EXACT, b.BODY_FUZZY),
    ):
        if exact:
            whens.append((_field_has(column, exact), exact_points))
        if fuzzy:
            whens.append((_field_has(column, fuzzy), fuzzy_points))
    return sa.case(*whens, else_=0)


def _quality(request: SearchRequest) -> ColumnElement[int]:
    fresh = sa.case(
        (D.c.verified_at >= request.stale_before, b.VERIFIED_BONUS),
        (D.c.updated_at >= request.stale_before, b.FRESH_BONUS),
        else_=0,
    )
    capacity = sa.case(
        (D.c.capacity_status == "accepting", b.ACCEPTING_BONUS),
        (D.c.capacity_status == "waiting_list", b.WAITING_BONUS),
        else_=0,
    )
    return fresh + capacity


def _score(query: ParsedQuery, request: SearchRequest) -> ColumnElement[int]:
    text: ColumnElement[int] = sa.literal(0)
    for clause in query.clauses:
        text = text + _clause_score(clause)
    return text * b.TEXT_FACTOR + _quality(request)


def _scales(origin: b.Origin) -> tuple[float, float]:
    return b.KM_PER_DEGREE, b.KM_PER_DEGREE * math.cos(math.radians(origin.latitude))


def _distance2(origin: b.Origin | None) -> ColumnElement[float] | None:
    """Squared distance in km² (no square root needed in SQL: SQLite may lack math functions)."""
    if origin is None:
        return None
    ky, kx = _scales(origin)
    dy = (D.c.latitude - origin.latitude) * ky
    dx = (D.c.longitude - origin.longitude) * kx
    return sa.case(
        (sa.or_(D.c.latitude.is_(None), D.c.longitude.is_(None)), NO_DISTANCE),
        else_=dy * dy + dx * dx,
    )


def _within(origin: b.Origin, radius_km: float) -> ColumnElement[bool]:
    ky, kx = _scales(origin)
    dlat = radius_km / ky
    dlon = radius_km / max(kx, 1e-6)
    distance = _distance2(origin)
    assert distance is not None
    return sa.and_(
        D.c.latitude.between(origin.latitude - dlat, origin.latitude + dlat),
        D.c.longitude.between(origin.longitude - dlon, origin.longitude + dlon),
        distance <= radius_km * radius_km,
    )
