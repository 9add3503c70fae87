"""Meilisearch backend without a Meilisearch server: the pure parts (documents, filters, index
settings, cursors), and for real, a MEILI_URL pointing at a closed localhost port: search answers
from the database and says so, the outbox feed retries later, and without Meilisearch the feed
marks its events processed. The live-server cases are in test_search_contract.py (MEILI_URL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.directory import worker
from services.directory.models import OutboxEvent
from services.directory.search import feed, meili, meili_feed
from services.directory.search.analysis import parse_query
from services.directory.search.backend import (
    After,
    Origin,
    SearchRequest,
    SearchUnavailable,
    primary_backend,
)
from services.directory.search.engine import BACKEND_HEADER, FALLBACK_HEADER
from services.kernel.clock import utcnow
from services.kernel.outbox import publish
from services.kernel.pagination import decode_cursor, encode_cursor
from tests.conftest import BACKENDS, Relais, start_relais
from tests.directory.helpers import BASE, admin, create_service, create_structure
from tests.tokens import TokenFactory

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SEARCH = f"{BASE}/search/services"


def request(**overrides: Any) -> SearchRequest:
    values: dict[str, Any] = {
        "kind": "service",
        "query": parse_query(""),
        "as_of": NOW,
        "stale_before": NOW - timedelta(days=182),
    }
    values.update(overrides)
    return SearchRequest(**values)


def index_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "doc_id": 7,
        "kind": "service",
        "entity_id": uuid.UUID("01900000-0000-7000-8000-000000000001"),
        "structure_id": uuid.UUID("01900000-0000-7000-8000-000000000002"),
        "status": "published",
        "capacity_status": "waiting_list",
        "type": "accompagnement",
        "fees": "gratuit",
        "appointment_required": None,
        "typology": "CCAS",
        "remote": False,
        "commune_code": "34172",
        "latitude": 43.61,
        "longitude": 3.88,
        "updated_at": NOW - timedelta(days=10),
        "verified_at": NOW - timedelta(days=2),
        "name": "Écrivain public",
        "name_text": "Écrivain public",
        "topic_text": "Accès aux droits ; CCAS de Montpellier",
        "body_text": "Aide aux courriers",
        "name_terms": " ecrivain ecrivain public publ ",
        "topic_terms": " acces droit ",
        "body_terms": " aide courrier ",
    }
    row.update(overrides)
    return row


# --- documents -------------------------------------------------------------------------------


def test_document_from_the_database_index_row() -> None:
    facets = [
        ("thematique", "numerique--acceder-a-du-materiel"),
        ("categorie", "numerique"),
        ("zone", "commune:34172"),
        ("zone", "departement:34"),
        ("public", "tous-publics"),
        ("type", "accompagnement"),  # single-valued facets are document fields already
    ]
    document = meili_feed.meili_document(index_row(), facets)
    assert document["id"] == "service-01900000-0000-7000-8000-000000000001"
    assert document["entity_id"] == "01900000-0000-7000-8000-000000000001"
    assert document["_geo"] == {"lat": 43.61, "lng": 3.88}
    assert document["zone"] == ["commune:34172", "departement:34"]
    assert document["categorie"] == ["numerique"]
    assert document["reception"] == []
    assert document["network"] == []
    assert "appointment_required" not in document  # unknown: matches neither true nor false
    assert document["capacity_rank"] == 1
    assert document["verified_at"] == int((NOW - timedelta(days=2)).timestamp())
    assert document["reviewed_at"] == document["verified_at"]
    assert document["name_text"] == "Écrivain public"


def test_document_without_position_or_verification() -> None:
    document = meili_feed.meili_document(
        index_row(latitude=None, verified_at=None, appointment_required=True), []
    )
    assert "_geo" not in document
    assert document["verified_at"] == 0
    assert document["reviewed_at"] == document["updated_at"]
    assert document["appointment_required"] is True
    assert "_geo" not in meili_feed.meili_document(index_row(latitude=95.0), [])


def test_document_ids_are_valid_meilisearch_ids() -> None:
    entity = uuid.uuid4()
    assert meili.document_id("structure", entity) == f"structure-{entity}"
    assert all(c.isalnum() or c in "-_" for c in meili.document_id("structure", entity))


# --- filters ---------------------------------------------------------------------------------


def test_user_values_are_quoted_and_escaped() -> None:
    assert meili.quote('a"b') == '"a\\"b"'
    assert meili.quote("a\\b") == '"a\\\\b"'
    assert meili.quote('\\"') == '"\\\\\\""'
    assert meili.quote("x OR kind = structure") == '"x OR kind = structure"'
    own = uuid.UUID("01900000-0000-7000-8000-0000000000aa")
    filters = meili.filter_expression(
        request(
            thematiques=frozenset({'evil" OR status = "draft'}),
            own_structure=own,
            own_statuses=frozenset({"draft"}),
        )
    )
    assert filters[0] == 'kind = "service"'
    assert filters[1] == (
        f'(status IN ["published"] OR (structure_id = "{own}" AND status IN ["draft"]))'
    )
    assert filters[2] == 'thematique IN ["evil\\" OR status = \\"draft"]'


def test_every_filter_has_its_expression() -> None:
    stale_before = NOW - timedelta(days=182)
    filters = meili.filter_expression(
        request(
            statuses=frozenset({"published", "suspended"}),
            publics=frozenset({"jeunes", "seniors"}),
            types=frozenset({"atelier"}),
            fees=frozenset({"payant"}),
            reception_modes=frozenset({"a-distance"}),
            networks=frozenset({"caf"}),
            typologies=frozenset({"CAF"}),
            capacity=frozenset({"full"}),
            appointment_required=False,
            exclude_stale=True,
            zones=frozenset({"commune:34301", "france"}),
            origin=Origin(43.4028, 3.6928),
            radius_km=5.0,
            stale_before=stale_before,
        )
    )
    since = int(stale_before.timestamp())
    assert filters == [
        'kind = "service"',
        'status IN ["published", "suspended"]',
        'public IN ["jeunes", "seniors"]',
        'reception IN ["a-distance"]',
        'network IN ["caf"]',
        'type IN ["atelier"]',
        'fees IN ["payant"]',
        'typology IN ["CAF"]',
        'capacity_status IN ["full"]',
        "appointment_required = false",
        f"(updated_at >= {since} OR verified_at >= {since})",
        'zone IN ["commune:34301", "france"]',
        '(_geoRadius(43.4028, 3.6928, 5000.0) OR (remote = true AND zone IN ["commune:34301", '
        '"france"]))',
    ]


def test_radius_without_commune_admits_national_remote_services() -> None:
    filters = meili.filter_expression(request(origin=Origin(43.6, 3.9), radius_km=10.0))
    assert filters[-1] == (
        '(_geoRadius(43.6, 3.9, 10000.0) OR (remote = true AND zone IN ["france"]))'
    )


def test_sort_and_query_text() -> None:
    assert meili.sort_expression(request()) is None
    near = request(origin=Origin(43.6, 3.9), sort="distance")
    assert meili.sort_expression(near) == ["_geoPoint(43.6, 3.9):asc"]
    # Meilisearch syntax (phrases, negation) never reaches it; words stay as typed.
    text = meili.query_text(request(query=parse_query('"logement -urgence" NEAR(caf) d\'accès')))
    assert text == "logement urgence NEAR(caf) d'accès"
    assert meili.query_text(request(query=parse_query("rendez-vous CAF"))) == "rendez-vous CAF"
    assert meili.query_text(request(query=parse_query("de la -"))) is None


def test_cursor_positions_and_distances() -> None:
    assert meili.position_of(None) is None
    assert meili.position_of(After(key=-93.0, entity_id=uuid.uuid4())) is None  # database key
    assert meili.position_of(After(key=meili.POSITION_KEY_BASE + 41, entity_id=uuid.uuid4())) == 41
    origin = request(origin=Origin(43.6108, 3.8767))
    sete = meili.distance_km(origin, {"_geo": {"lat": 43.4028, "lng": 3.6928}})
    assert sete is not None
    assert 26 < sete < 29
    assert meili.distance_km(origin, {}) is None
    assert meili.distance_km(request(), {"_geo": {"lat": 1, "lng": 2}}) is None


def test_facet_distribution_maps_to_the_response_facets() -> None:
    facets = meili.facet_counts(
        {"categorie": {"numerique": 2, "logement-hebergement": 5}, "fees": {"gratuit": 3}, "x": {}}
    )
    assert facets["categorie"] == {"logement-hebergement": 5, "numerique": 2}
    assert list(facets["categorie"]) == ["logement-hebergement", "numerique"]
    assert facets["fees"] == {"gratuit": 3}
    assert facets["type"] == {}
    assert facets["public"] == {}
    assert facets["reception"] == {}


# --- index settings --------------------------------------------------------------------------


def test_index_settings_payload() -> None:
    payload = meili_feed.index_settings().model_dump(by_alias=True, exclude_none=True)
    assert payload["searchableAttributes"] == ["name_text", "topic_text", "body_text"]
    assert {"_geo", "zone", "thematique", "status", "kind"} <= set(payload["filterableAttributes"])
    assert set(payload["sortableAttributes"]) == {"_geo", "capacity_rank", "reviewed_at"}
    rules = payload["rankingRules"]
    assert rules[:2] == ["words", "sort"]
    assert rules.index("attribute") < rules.index("capacity_rank:desc")
    assert payload["typoTolerance"]["minWordSizeForTypos"] == {"oneTypo": 4, "twoTypos": 9}
    assert "de" in payload["stopWords"]
    synonyms = payload["synonyms"]
    assert "allocations familiales" in synonyms["caf"]
    assert "caf" in synonyms["allocations familiales"]
    assert "france travail" in synonyms["pôle emploi"]
    assert all(key not in values for key, values in synonyms.items())
    assert payload["pagination"] == {"maxTotalHits": meili.MAX_TOTAL_HITS}


def test_one_way_synonyms_stay_one_way() -> None:
    from services.directory.search.analysis import synonyms

    table = meili_feed.synonym_table()
    source, targets = synonyms().oneway[0]
    for target in targets:
        assert target.casefold() in table[source.casefold()]
        assert source.casefold() not in table.get(target.casefold(), [])


def test_outbox_events_name_the_documents_to_refresh() -> None:
    service, structure = uuid.uuid4(), uuid.uuid4()
    changes = meili_feed.Changes()
    changes.add_event("service.archived", {"id": str(service), "structure_id": str(structure)})
    changes.add_event("structure.upserted", {"id": str(structure)})
    changes.add_event("service.upserted", {"id": "not-a-uuid"})
    assert changes.services == {service}
    assert changes.structures == {structure}  # its summary document
    assert changes.trees == {structure}  # and, for a structure change, all its services
    assert changes
    assert not meili_feed.Changes()


def test_the_worker_runs_the_feed() -> None:
    jobs = {job.name: job for job in worker.JOBS}
    assert jobs["directory.search-sync"].run is feed.sync_job
    assert jobs["directory.search-sync"].interval_seconds <= 2
    assert "directory.check-links" in jobs


# --- with Meilisearch down (a closed localhost port) -------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed as soon as the socket is: nothing listens there


@pytest.fixture(scope="module", params=BACKENDS)
async def meili_down(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[Relais]:
    home: Path = tmp_path_factory.mktemp(f"meili-down-{request.param}")
    relais, stack = await start_relais(
        request.param,
        home,
        tokens,
        meili_url=f"http://127.0.0.1:{closed_port()}",
        meili_index_prefix=f"t{uuid.uuid4().hex[:6]}_",
    )
    async with stack:
        yield relais


async def test_search_answers_from_the_database_when_meilisearch_is_down(
    meili_down: Relais,
) -> None:
    client, tokens = meili_down.client, meili_down.tokens
    structure = await create_structure(client, tokens)
    word = f"zorglub{uuid.uuid4().hex[:6]}"
    created = await create_service(client, tokens, structure["id"], name=f"Atelier {word}")
    for _ in range(2):  # the second one without even trying (retry delay)
        response = await client.get(SEARCH, params={"q": word})
        assert response.status_code == 200, response.text
        assert response.headers[BACKEND_HEADER] == meili_down.backend
        assert response.headers[FALLBACK_HEADER].startswith("meilisearch: ")
        body = response.json()
        assert body["backend"] == meili_down.backend
        assert [i["id"] for i in body["items"]] == [created["id"]]


async def test_outbox_feed_retries_later_when_meilisearch_is_down(meili_down: Relais) -> None:
    app = meili_down.app("directory")
    entity = uuid.uuid4()
    async with app.state.db.session() as session:
        event = publish(
            session,
            OutboxEvent,
            "service.upserted",
            entity,
            {"id": str(entity), "structure_id": str(entity)},
        )
        await session.flush()
        event_id = event.id
    assert await feed.sync_outbox(app) == 0
    async with app.state.db.session() as session:
        row = await session.get(OutboxEvent, event_id)
        assert row is not None
        assert row.processed_at is None
        assert row.attempts == 1
        assert row.last_error is not None
        assert row.last_error.startswith("meilisearch: ")
        assert row.available_at > utcnow()
        assert "127.0.0.1" not in row.last_error  # no URLs or secrets in the error


async def test_search_falls_back_while_the_index_lags_behind_the_outbox(
    meili_down: Relais,
) -> None:
    app = meili_down.app("directory")
    backend = primary_backend(app.state)
    assert isinstance(backend, meili.MeiliSearchBackend)
    entity = uuid.uuid4()
    async with app.state.db.session() as session:
        publish(session, OutboxEvent, "structure.upserted", entity, {"id": str(entity)})
        await session.flush()
        await session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.aggregate_id == str(entity))
            .values(created_at=utcnow() - timedelta(hours=1))
        )
    fresh = meili.MeiliSearchBackend(app.state.settings, app.state.db)
    try:
        assert await fresh.lagging_events() >= 1
        with pytest.raises(SearchUnavailable, match="en retard"):
            await fresh.search(request())
    finally:
        await fresh.aclose()


async def test_a_database_cursor_continues_on_the_database(meili_down: Relais) -> None:
    client, tokens = meili_down.client, meili_down.tokens
    structure = await create_structure(client, tokens)
    word = f"plouf{uuid.uuid4().hex[:6]}"
    ids = {
        (await create_service(client, tokens, structure["id"], name=f"Atelier {word} {i}"))["id"]
        for i in range(3)
    }
    seen: list[str] = []
    params: dict[str, Any] = {"q": word, "limit": 2}
    while True:
        response = await client.get(SEARCH, params=params)
        assert response.status_code == 200
        seen += [i["id"] for i in response.json()["items"]]
        if not response.json()["next_cursor"]:
            break
        params["cursor"] = response.json()["next_cursor"]
    assert sorted(seen) == sorted(ids)


async def test_a_meilisearch_cursor_restarts_on_the_database(meili_down: Relais) -> None:
    client = meili_down.client
    first = await client.get(SEARCH, params={"q": "atelier", "limit": 1})
    assert first.status_code == 200
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    values = decode_cursor(cursor, (str, float, str, str, float, float))
    values[1] = meili.POSITION_KEY_BASE + 0
    response = await client.get(
        SEARCH, params={"q": "atelier", "limit": 1, "cursor": encode_cursor(values)}
    )
    assert response.status_code == 200
    assert "pagination reprise au début" in response.headers[FALLBACK_HEADER]
    assert response.json()["items"] == first.json()["items"]


# --- without Meilisearch -------------------------------------------------------------------------


async def test_without_meilisearch_the_feed_marks_its_events_processed(
    relais: Relais, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    app = relais.app("directory")
    assert primary_backend(app.state) is None
    structure = await create_structure(client, tokens)
    await feed.sync_outbox(app, wait=True)
    async with app.state.db.session() as session:
        pending = await session.scalar(
            sa.select(sa.func.count()).where(
                OutboxEvent.aggregate_id == structure["id"], OutboxEvent.processed_at.is_(None)
            )
        )
    assert pending == 0


# What a served process has imported once its apps (and the worker's jobs) are built, and the
# search feed job has run: the Meilisearch modules and SDK, by name.
_SERVED_IMPORTS = """
import asyncio, sys
from services import system
from services.directory.search import feed
from services.kernel.settings import load_settings

asyncio.run(system.migrate(load_settings(), ["directory"]))
gateway = system.serve_app()
if not load_settings().meili_url:
    asyncio.run(feed.sync_job(gateway.apps["directory"]))
names = ("meilisearch", "services.directory.search.meili")
print(" ".join(sorted(m for m in sys.modules if m.startswith(names))))
"""


@pytest.mark.parametrize("configured", [False, True], ids=["without", "with"])
def test_the_meilisearch_sdk_is_imported_only_when_configured(
    configured: bool, tmp_path: Path
) -> None:
    """Without MEILI_URL, starting every app with its background jobs and running the search
    feed job load neither ``meili``/``meili_feed`` nor the Meilisearch SDK (some 11 MB
    resident); with it, the backend does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEILI_", "RELAIS_"))}
    env.update(RELAIS_HOME=str(tmp_path), LOG_LEVEL="WARNING", WORKER_ENABLED="true")
    if configured:
        env["MEILI_URL"] = "http://127.0.0.1:9"
    done = subprocess.run(
        [sys.executable, "-c", _SERVED_IMPORTS],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    if configured:
        assert "meilisearch_python_sdk" in loaded
        assert "services.directory.search.meili" in loaded
    else:
        assert loaded == []


async def test_structure_writes_refresh_their_services_search_documents(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    structure = await create_structure(client, tokens)
    service = await create_service(client, tokens, structure["id"])
    word = f"quenouille{uuid.uuid4().hex[:6]}"
    renamed = await client.patch(
        f"{BASE}/structures/{structure['id']}",
        json={"name": f"Maison {word}"},
        headers={**admin(tokens, structure["id"]), "If-Match": '"1"'},
    )
    assert renamed.status_code == 200, renamed.text
    found = await client.get(SEARCH, params={"q": word})
    assert service["id"] in [i["id"] for i in found.json()["items"]]
    assert found.json()["items"][0]["structure_name"] == f"Maison {word}"


# --- positional pagination (a stand-in index: the ranking is Meilisearch's business) -------------


class StandInIndex:
    """Answers ``search`` from an ordered list of entity ids, as Meilisearch would page it."""

    def __init__(self, ids: list[uuid.UUID]) -> None:
        self.ids = ids

    async def search(self, query: str | None, *, offset: int, limit: int, **_: Any) -> Any:
        from types import SimpleNamespace

        hits = [{"entity_id": str(i)} for i in self.ids[offset : offset + limit]]
        return SimpleNamespace(
            hits=hits, total_hits=None, estimated_total_hits=len(self.ids), facet_distribution={}
        )


async def _pages(backend: meili.MeiliSearchBackend, index: StandInIndex, change: Any) -> list[str]:
    seen: list[uuid.UUID] = []
    after: After | None = None
    page_number = 0
    while True:
        req = request(query=parse_query("atelier"), limit=5, after=after)
        result = await backend._search(req, meili.position_of(after))
        seen += [h.entity_id for h in result.hits]
        page_number += 1
        if page_number == 2:
            change(index)
        if not result.has_more:
            return [str(i) for i in seen]
        last = result.hits[-1]
        after = After(key=last.key, entity_id=last.entity_id)


@pytest.mark.parametrize("change", ["none", "insert-top", "remove-seen", "remove-ahead"])
async def test_positional_cursors_have_no_duplicates_or_gaps(
    change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.kernel.settings import load_settings

    ids = [uuid.uuid4() for _ in range(23)]
    index = StandInIndex(list(ids))
    backend = meili.MeiliSearchBackend(
        load_settings(environ={}, meili_url="http://127.0.0.1:9"),
        db=None,  # type: ignore[arg-type]
    )
    monkeypatch.setattr(backend, "index", lambda: index)
    newcomer = uuid.uuid4()

    def mutate(target: StandInIndex) -> None:
        if change == "insert-top":
            target.ids.insert(0, newcomer)
        elif change == "remove-seen":
            target.ids.remove(ids[1])
        elif change == "remove-ahead":
            target.ids.remove(ids[15])

    try:
        seen = await _pages(backend, index, mutate)
    finally:
        await backend.aclose()
    assert len(seen) == len(set(seen))
    expected = [str(i) for i in ids if not (change == "remove-ahead" and i == ids[15])]
    assert seen == expected
