"""« Le plus proche » in every commune: the communes' reference positions (origin of a search by
commune, approximate position of entries without coordinates) and remote services, on every
search backend (SQLite, PostgreSQL, Meilisearch when MEILI_URL is set). The catalogue is
imported from data·inclusion rows through the API, as a département's data would be."""

from __future__ import annotations

import importlib.util
import math
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from services.directory import models as m
from services.directory.app import MIGRATIONS
from services.directory.search import tables as search_tables
from services.directory.search.resolve import SearchParams, resolve
from services.kernel.problems import ProblemError
from services.kernel.reference import geography
from tests.conftest import Relais, start_relais
from tests.directory import search_support as support
from tests.directory.helpers import moderator
from tests.tokens import TokenFactory

SERVICES = "/directory/v1/search/services"
STRUCTURES = "/directory/v1/search/structures"
LORIOL = "26166"  # Loriol-sur-Drôme: no entry of its own
CELLES = "15031"  # one of the communes without a reference position
VALENCE_ADDRESS = (44.9334, 4.8924)

# source id -> (name, INSEE code, coordinates or None, reception modes)
PLACES: dict[str, tuple[str, str, tuple[float, float] | None, list[str]]] = {
    "livron": ("Livron-sur-Drôme", "26165", None, ["en-presentiel"]),
    "valence": ("Valence", "26362", VALENCE_ADDRESS, ["en-presentiel"]),
    "montelimar": ("Montélimar", "26198", None, ["en-presentiel", "a-distance"]),
    # Held in Loriol itself, but received only at a distance: not « near ».
    "en-ligne": ("Loriol-sur-Drôme", LORIOL, (44.7495, 4.8141), ["a-distance"]),
    "celles": ("Celles", CELLES, None, ["en-presentiel"]),
}
LOCATED = ["livron", "valence", "montelimar"]  # nearest first, seen from Loriol


@dataclass
class GeoSystem:
    backend: str
    relais: Relais
    services: dict[str, str]  # source id -> service id
    structures: dict[str, str]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.relais.client

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params)

    async def ok(self, path: str = SERVICES, **params: Any) -> dict[str, Any]:
        response = await self.get(path, **params)
        assert response.status_code == 200, response.text
        if self.backend == "meilisearch":
            assert response.headers["X-Search-Backend"] == "meilisearch", response.headers
        body: dict[str, Any] = response.json()
        return body

    def keys(self, items: list[dict[str, Any]], kind: str = "service") -> list[str]:
        ids = self.services if kind == "service" else self.structures
        by_id = {v: k for k, v in ids.items()}
        return [by_id[i["id"]] for i in items if i["id"] in by_id]


def _rows(source: str) -> dict[str, Any]:
    structures, services = [], []
    for key, (commune, code, coordinates, modes) in PLACES.items():
        structure: dict[str, Any] = {
            "id": key,
            "nom": f"CAF de la Drôme, accueil de {commune}",
            "date_maj": "2026-11-01",
            "code_insee": code,
            "commune": commune,
        }
        if coordinates is not None:
            structure["latitude"], structure["longitude"] = coordinates
        structures.append(structure)
        services.append(
            {
                "id": key,
                "structure_id": key,
                "nom": f"Point d'accueil CAF {commune}",
                "description": "Prestations familiales, RSA, prime d'activité.",
                "date_maj": "2026-11-01",
                "type": "accompagnement",
                "thematiques": ["famille--garde-denfants"],
                "zone_eligibilite": ["france"],
                "modes_accueil": modes,
            }
        )
    return {"source": source, "structures": structures, "services": services}


@pytest.fixture(scope="module", params=support.SEARCH_BACKENDS)
async def geo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[GeoSystem]:
    backend = request.param
    overrides: dict[str, Any] = {}
    db_backend = backend
    if backend == "meilisearch":
        if not support.MEILI_URL:
            pytest.skip("Meilisearch contract tests need MEILI_URL (no Meilisearch here)")
        db_backend = "postgresql"
        overrides = {
            "meili_url": support.MEILI_URL,
            "meili_key": os.environ.get("MEILI_KEY", ""),
            "meili_index_prefix": f"t{os.urandom(4).hex()}_",
        }
    relais, stack = await start_relais(
        db_backend, tmp_path_factory.mktemp(f"geo-{backend}"), tokens, **overrides
    )
    async with stack:
        source = f"geo-{uuid.uuid4().hex[:8]}"
        response = await relais.client.post(
            "/directory/v1/imports", json=_rows(source), headers=moderator(tokens)
        )
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == 0, response.text
        if backend == "meilisearch":
            from services.directory.search.feed import sync_outbox
            from services.directory.search.meili_feed import reindex

            await reindex(relais.app("directory"))
            await sync_outbox(relais.app("directory"), wait=True)
        ids: dict[str, dict[str, str]] = {}
        async with relais.app("directory").state.db.session() as session:
            for kind, model in (("service", m.Service), ("structure", m.Structure)):
                rows = await session.execute(
                    sa.select(model.source_id, model.id).where(model.source == source)
                )
                ids[kind] = {key: str(entity_id) for key, entity_id in rows.all()}
        assert set(ids["service"]) == set(PLACES), ids
        yield GeoSystem(backend, relais, ids["service"], ids["structure"])


def _crow_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    ky = 111.195
    kx = ky * math.cos(math.radians(a[0]))
    return math.hypot((b[0] - a[0]) * ky, (b[1] - a[1]) * kx)


async def test_nearest_caf_from_a_commune_without_entries(geo: GeoSystem) -> None:
    """The field request: a mediator in Loriol-sur-Drôme asks for the nearest CAF point."""
    body = await geo.ok(q="CAF", commune=LORIOL, sort="distance", limit=100)
    items = body["items"]
    keys = geo.keys(items)
    assert keys[:3] == LOCATED, keys
    assert set(keys[3:]) == {"en-ligne", "celles"}, keys
    distances = [i["distance_km"] for i in items[:3]]
    assert distances == sorted(distances)
    loriol = geography().position(LORIOL)
    assert loriol is not None
    origin = (loriol.latitude, loriol.longitude)
    assert distances[1] == pytest.approx(_crow_km(origin, VALENCE_ADDRESS), abs=0.05)
    # Livron has no coordinates: measured from its commune's reference point, and says so.
    livron = items[0]
    assert livron["position"]["precision"] == "commune"
    assert livron["distance_km"] == pytest.approx(4.7, abs=0.1)
    assert items[1]["position"] == {
        "latitude": VALENCE_ADDRESS[0],
        "longitude": VALENCE_ADDRESS[1],
        "precision": "address",
    }
    # Remote-only and unlocated entries come last, without a distance; the reason is given.
    tail = {geo.keys([i])[0]: i for i in items[3:]}
    assert tail["en-ligne"]["remote_only"] is True
    assert tail["en-ligne"]["distance_km"] is None
    assert tail["en-ligne"]["position"]["precision"] == "address"
    assert tail["celles"]["remote_only"] is False
    assert tail["celles"]["distance_km"] is None
    assert tail["celles"]["position"] is None
    # A service received on site and remotely is located.
    assert items[2]["remote_only"] is False


async def test_distance_is_the_default_order_for_a_commune_and_pages_stay_in_order(
    geo: GeoSystem,
) -> None:
    first = await geo.ok(commune=LORIOL, limit=2)
    keys = geo.keys(first["items"])
    cursor = first["next_cursor"]
    while cursor:
        page = await geo.ok(commune=LORIOL, limit=2, cursor=cursor)
        keys += geo.keys(page["items"])
        cursor = page["next_cursor"]
    assert keys[:3] == LOCATED
    assert set(keys[3:]) == {"en-ligne", "celles"}


async def test_radius_around_a_commune_uses_reference_positions(geo: GeoSystem) -> None:
    body = await geo.ok(commune=LORIOL, radius_km=10, limit=100)
    # Livron (4.7 km, approximate) and the services also received remotely (eligible
    # everywhere: reachable from Loriol); not Valence (21 km, on site only).
    assert set(geo.keys(body["items"])) == {"livron", "en-ligne", "montelimar"}
    body = await geo.ok(commune=LORIOL, radius_km=25, limit=100)
    assert set(geo.keys(body["items"])) == {*LOCATED, "en-ligne"}


async def test_structures_sorted_by_distance_from_a_commune(geo: GeoSystem) -> None:
    body = await geo.ok(STRUCTURES, commune=LORIOL, sort="distance", limit=100)
    keys = geo.keys(body["items"], "structure")
    # A structure is a place: the one in Loriol is nearest, even if its service is remote-only.
    assert keys[:4] == ["en-ligne", *LOCATED], keys
    assert keys[4:] == ["celles"]
    assert body["items"][4]["distance_km"] is None


async def test_a_commune_without_a_reference_position_is_named(geo: GeoSystem) -> None:
    for params in ({"sort": "distance"}, {"radius_km": "10"}, {"q": "CAF", "sort": "distance"}):
        response = await geo.get(SERVICES, commune=CELLES, **params)
        assert response.status_code == 422, (params, response.text)
        problem = response.json()
        assert [e["field"] for e in problem["errors"]] == ["commune"]
        assert "Celles (15031)" in problem["detail"]
    # Eligibility needs no position: the search still answers, by relevance.
    body = await geo.ok(commune=CELLES, limit=100)
    assert set(geo.keys(body["items"])) == set(PLACES)
    # An origin given as lat/lon makes the commune's missing position irrelevant.
    body = await geo.ok(commune=CELLES, lat=44.75, lon=4.81, sort="distance", limit=100)
    assert geo.keys(body["items"])[:3] == LOCATED


async def test_every_commune_without_a_reference_position_is_refused_by_name(
    geo: GeoSystem,
) -> None:
    settings = geo.relais.settings
    geo_data = geography()
    missing = sorted(c for c in geo_data.communes if geo_data.position(c) is None)
    assert 100 <= len(missing) <= 110  # the reference data's README: 104 rows, 103 codes
    for code in missing:
        params = SearchParams(kind="service", path=SERVICES, commune=code, sort="distance")
        with pytest.raises(ProblemError) as caught:
            resolve(params, None, settings)
        assert caught.value.status_code == 422, code
        assert [e.field for e in caught.value.errors] == ["commune"], code
    # Every other commune is an origin.
    located = [c for c in geo_data.communes if geo_data.position(c) is not None]
    assert len(located) == 36_903
    for code in located[::500]:
        params = SearchParams(kind="service", path=SERVICES, commune=code, sort="distance")
        assert resolve(params, None, settings).origin is not None, code


async def test_imported_entries_without_coordinates_get_their_commune_position(
    geo: GeoSystem,
) -> None:
    client = geo.client
    structure = (await client.get(f"/directory/v1/structures/{geo.structures['livron']}")).json()
    assert structure["latitude"] is None  # the source gave none: nothing is invented in place
    reference = geography().position("26165")
    assert reference is not None
    assert structure["position"] == {
        "latitude": reference.latitude,
        "longitude": reference.longitude,
        "precision": "commune",
    }
    located = (await client.get(f"/directory/v1/structures/{geo.structures['valence']}")).json()
    assert located["position"]["precision"] == "address"
    nowhere = (await client.get(f"/directory/v1/structures/{geo.structures['celles']}")).json()
    assert nowhere["position"] is None
    # A service without an address of its own is at its structure's, approximate too.
    service = (await client.get(f"/directory/v1/services/{geo.services['livron']}")).json()
    assert service["latitude"] is None
    assert service["position"] == structure["position"]
    # HSDS: the commune's point, marked approximate.
    location = (await client.get(f"/directory/hsds/locations/{geo.structures['livron']}")).json()
    assert (location["latitude"], location["longitude"]) == (
        reference.latitude,
        reference.longitude,
    )
    marks = [a for a in location.get("attributes", []) if a["link_type"] == "position_precision"]
    assert [m["value"] for m in marks] == ["commune"]
    exact = (await client.get(f"/directory/hsds/locations/{geo.structures['valence']}")).json()
    assert not [a for a in exact.get("attributes", []) if a["link_type"] == "position_precision"]


async def _same_position_everywhere(geo: GeoSystem, key: str, expected: dict[str, Any]) -> None:
    """The service's position in its native read, the list of its structure's services, search
    and its HSDS location (coordinates, and the approximate mark for a commune's point)."""
    client = geo.client
    service_id, structure_id = geo.services[key], geo.structures[key]
    read = (await client.get(f"/directory/v1/services/{service_id}")).json()
    assert read["position"] == expected, key
    listed = await geo.ok("/directory/v1/services", structure_id=structure_id)
    assert [i["position"] for i in listed["items"]] == [expected], key
    found = await geo.ok(q="CAF", limit=100)
    [hit] = [i for i in found["items"] if i["id"] == service_id]
    assert hit["position"] == expected, key
    hsds = (await client.get(f"/directory/hsds/services/{service_id}")).json()
    [at] = hsds["service_at_locations"]
    location = at["location"]
    assert (location["latitude"], location["longitude"]) == (
        expected["latitude"],
        expected["longitude"],
    ), key
    marks = [a for a in location.get("attributes", []) if a["link_type"] == "position_precision"]
    assert [m["value"] for m in marks] == (
        ["commune"] if expected["precision"] == "commune" else []
    )


async def test_a_service_at_its_structure_has_its_position_in_every_view(geo: GeoSystem) -> None:
    """A service without coordinates of its own is at its structure's: the native API (read,
    list, a write's answer), search and the HSDS view give one position, with its precision
    (``domain.positions.service_position`` decides, once)."""
    client = geo.client
    for key, precision in (("valence", "address"), ("livron", "commune")):
        structure_id = geo.structures[key]
        structure = (await client.get(f"/directory/v1/structures/{structure_id}")).json()
        assert structure["position"]["precision"] == precision
        await _same_position_everywhere(geo, key, structure["position"])
    # Given its structure's commune but no coordinates, it is still at its structure's address
    # (not at the commune's reference point): in the write's answer and everywhere after.
    service_id = geo.services["valence"]
    before = await client.get(f"/directory/v1/services/{service_id}")
    expected = before.json()["position"]
    patched = await client.patch(
        f"/directory/v1/services/{service_id}",
        json={"commune_code": PLACES["valence"][1]},
        headers={**moderator(geo.relais.tokens), "If-Match": before.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["commune_code"] == PLACES["valence"][1]
    assert patched.json()["position"] == expected
    if geo.backend == "meilisearch":
        from services.directory.search.feed import sync_outbox

        await sync_outbox(geo.relais.app("directory"), wait=True)
    await _same_position_everywhere(geo, "valence", expected)


async def test_communes_expose_their_reference_position(geo: GeoSystem) -> None:
    (loriol,) = (await geo.client.get(f"/directory/v1/communes/{LORIOL}")).json()
    reference = geography().position(LORIOL)
    assert reference is not None
    assert loriol["position"] == {
        "latitude": reference.latitude,
        "longitude": reference.longitude,
        "precision": "commune",
    }
    (celles,) = (await geo.client.get(f"/directory/v1/communes/{CELLES}")).json()
    assert celles["position"] is None
    found = (await geo.client.get("/directory/v1/communes", params={"q": "loriol"})).json()
    assert any(c["code"] == LORIOL and c["position"] for c in found)


def _run_migration(connection: sa.Connection, name: str) -> None:
    path = next((MIGRATIONS / "versions").glob(f"*_{name}.py"))
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with Operations.context(MigrationContext.configure(connection)):
        module.upgrade()


async def test_the_migration_places_documents_indexed_before(geo: GeoSystem) -> None:
    """Documents indexed by the previous version (no commune positions, remote services
    located) are fixed by the migration as a reindex would."""
    db = geo.relais.app("directory").state.db
    docs = search_tables.documents
    ids = [uuid.UUID(geo.services[k]) for k in ("livron", "en-ligne", "valence")]

    async def positions() -> dict[uuid.UUID, tuple[float | None, float | None]]:
        async with db.session() as session:
            rows = await session.execute(
                sa.select(docs.c.entity_id, docs.c.latitude, docs.c.longitude).where(
                    docs.c.kind == "service", docs.c.entity_id.in_(ids)
                )
            )
            return {r.entity_id: (r.latitude, r.longitude) for r in rows}

    indexed = await positions()
    assert indexed[ids[1]] == (None, None)  # remote only
    async with db.engine.begin() as conn:
        await conn.execute(
            sa.update(docs).where(docs.c.entity_id == ids[0]).values(latitude=None, longitude=None)
        )
        await conn.execute(
            sa.update(docs).where(docs.c.entity_id == ids[1]).values(latitude=44.7, longitude=4.8)
        )
        await conn.run_sync(_run_migration, "6a1d3c9e5b27")
    assert await positions() == indexed
