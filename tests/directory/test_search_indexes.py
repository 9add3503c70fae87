"""The database search statements use the indexes the migrations made.

Each engine's search is one statement whose expressions must be, verbatim, those of an index
(PostgreSQL matches an index by its expression; an FTS5 column filter names a column of the
FTS table). A change to a statement or to a migration that breaks that correspondence makes
every search a scan of the whole table: these tests read the live indexes (``pg_indexes``,
``sqlite_master``) and the engine's plan of each kind of search, with sequential scans
priced out, and fail when a statement no longer finds its index.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.search import postgres, resolve
from services.directory.search.engine import database_backend
from tests.conftest import Relais


async def _request(relais: Relais, session: Any, **params: Any) -> Any:
    search = resolve.SearchParams(kind=params.pop("kind", "service"), path="/", **params)
    return resolve.resolve(search, None, relais.settings)


# kind of search -> (parameters, what each engine's plan must show: the index used, and the
# condition it is used for — PostgreSQL, SQLite)
CASES: dict[str, tuple[dict[str, Any], dict[str, str], dict[str, str]]] = {
    "text": (
        {"q": "logement"},
        {"ix_search_documents_service_terms": f"({postgres.TEXT} @@ "},
        {"SCAN search_fts VIRTUAL TABLE INDEX": ""},
    ),
    "text, structures": (
        {"q": "logement", "kind": "structure"},
        {"ix_search_documents_structure_terms": f"({postgres.TEXT} @@ "},
        {"SCAN search_fts VIRTUAL TABLE INDEX": ""},
    ),
    "eligibility": (
        {"commune": "34172"},
        {"ix_search_documents_zones": "(zones && "},
        {"ix_search_facets_value": "(facet=? AND value=?)"},
    ),
    "thematique": (
        {"filters": {"thematiques": ["logement-hebergement"]}},
        {"ix_search_documents_thematiques": "(thematiques && "},
        {"ix_search_facets_value": "(facet=? AND value=?)"},
    ),
    "radius": (
        {"lat": 43.61, "lon": 3.88, "radius_km": 5.0},
        {
            "ix_search_documents_position": "(latitude >= ",
            "ix_search_documents_remote": "",
        },
        {"ix_search_documents_position": "(kind=? AND latitude>? AND latitude<?)"},
    ),
}


# 5,000 documents of various words, places and zones (rolled back with the test's transaction).
CATALOGUE = """
INSERT INTO search_documents (kind, entity_id, structure_id, status, capacity_status, remote,
    latitude, longitude, updated_at, name, name_text, topic_text, body_text, name_terms,
    topic_terms, body_terms, thematiques, categories, publics, receptions, networks, zones)
SELECT CASE WHEN g % 10 = 0 THEN 'structure' ELSE 'service' END, gen_random_uuid(),
    gen_random_uuid(), 'published', 'accepting', g % 50 = 0, 42 + (g % 100) * 0.05,
    (g % 97) * 0.08 - 1, now(), 'x', '', '', '', ' name' || (g % 500) || ' ',
    ' topic' || (g % 300) || ' ', ' body' || (g % 1000) || ' ', ARRAY['t' || (g % 40)],
    ARRAY['c' || (g % 10)], ARRAY['p' || (g % 8)], ARRAY['r' || (g % 3)], ARRAY[]::text[],
    ARRAY['commune:' || (g % 3000), 'departement:' || (g % 90)]
FROM generate_series(1, 5000) AS g
"""


async def _indexes(session: AsyncSession) -> list[str]:
    """The secondary indexes of the search tables (PostgreSQL; not the primary keys)."""
    sql = (
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename IN ('search_documents', 'search_facets') AND indexname NOT LIKE '%pkey'"
    )
    return list(await session.scalars(sa.text(sql)))


@pytest.mark.parametrize("case", list(CASES))
async def test_each_kind_of_search_uses_its_index(relais: Relais, case: str) -> None:
    """The plan reads the documents through the case's index. PostgreSQL: with only that index
    left (the others dropped in a transaction rolled back), and through nothing else. (SQLite's
    driver runs DDL outside the transaction: nothing is dropped there; its planner takes an
    index whenever one matches.)"""
    params, pg_indexes, sqlite_indexes = CASES[case]
    db = relais.app("directory").state.db
    expected = pg_indexes if db.is_postgres else sqlite_indexes
    async with db.engine.connect() as connection, connection.begin() as transaction:
        session = AsyncSession(bind=connection)
        if db.is_postgres:
            # Statistics of a catalogue, not of the few entries of the test database (on
            # which any plan is as good as another).
            await session.execute(sa.text(CATALOGUE))
            await session.execute(sa.text("ANALYZE search_documents"))
        for index in await _indexes(session) if db.is_postgres else []:
            if index.startswith("uq_"):  # a unique constraint's index
                await session.execute(
                    sa.text(f'ALTER TABLE search_documents DROP CONSTRAINT "{index}"')
                )
            elif index not in expected:
                await session.execute(sa.text(f'DROP INDEX "{index}"'))
        request = await _request(relais, session, **dict(params))
        backend = database_backend(session)
        if db.is_postgres:
            await session.execute(sa.text("SET LOCAL enable_seqscan = off"))
            prefix = "EXPLAIN "
        else:
            prefix = "EXPLAIN QUERY PLAN "
        explain = backend.statement(request, request.query, every=True, prefix=prefix)
        plan = "\n".join(str(row[-1]) for row in await session.execute(explain))
        await transaction.rollback()
    for index, condition in expected.items():
        assert index in plan, plan
        if db.is_postgres:
            # The condition is the index's (not a filter on what a whole-index scan read).
            used = [line for line in plan.splitlines() if "Cond: " in line]
            assert any(condition in line for line in used), plan
        else:
            assert any(index in line and condition in line for line in plan.splitlines()), plan
    # No whole-table read of the documents.
    assert "Seq Scan on search_documents" not in plan, plan
    assert "SCAN search_documents" not in plan.replace("USING", ""), plan


async def test_typo_candidates_use_the_trigram_index(relais: Relais) -> None:
    db = relais.app("directory").state.db
    if not db.is_postgres:
        # FTS5 ``trigram`` table: the only way to read it is its index.
        return
    async with db.session() as session:
        await session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = await session.execute(
            sa.text("EXPLAIN " + postgres.SIMILAR_TERMS), {"words": ["logemnt"]}
        )
        text = "\n".join(row[0] for row in plan)
    assert "ix_search_vocabulary_trgm" in text, text


async def test_the_indexed_expressions_are_the_statements(relais: Relais) -> None:
    """The live index definitions hold the expressions the statements are written with."""
    db = relais.app("directory").state.db
    async with db.session() as session:
        if db.is_postgres:
            rows = await session.execute(
                sa.text(
                    "SELECT indexname, indexdef FROM pg_indexes "
                    "WHERE schemaname = current_schema() AND tablename = 'search_documents'"
                )
            )
            indexes = dict(rows.all())
            for kind in ("service", "structure"):
                definition = indexes[f"ix_search_documents_{kind}_terms"]
                assert f"USING gin ({postgres.TEXT}) WHERE" in definition, definition
                assert f"'{kind}'" in definition, definition
            for column in (*postgres.FACET_FILTERS.values(), "zones"):
                assert f"USING gin ({column})" in indexes[f"ix_search_documents_{column}"]
            assert "(kind, latitude, longitude)" in indexes["ix_search_documents_position"]
        else:
            rows = await session.execute(
                sa.text("SELECT name, sql FROM sqlite_master WHERE name LIKE 'search_%'")
            )
            tables = dict(rows.all())
            fts = tables["search_fts"]
            # The column filters of the scoring name the FTS table's columns.
            assert "fts5(name, topic, body," in fts, fts
            rows = await session.execute(
                sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
            )
            indexes = dict(rows.all())
            assert "(facet, value, doc_id)" in indexes["ix_search_facets_value"]
            assert "(kind, latitude, longitude)" in indexes["ix_search_documents_position"]
