"""The demo territory: deterministic, realistic, valid data·inclusion v1 rows."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import phonenumbers
import pytest
import sqlalchemy as sa
from opening_hours import OpeningHours

from services.directory.demo import SOURCE, build_territory, generate_territory
from services.directory.demo.seed import seed_demo
from services.directory.demo.specs import catalogue
from services.directory.models import HistoryEntry, Service, Structure
from services.kernel.reference import geography, taxonomy
from tests.conftest import start_relais
from tests.directory.demo_notable import NOTABLE

TODAY = date(2026, 11, 20)
SCHEMAS = Path(__file__).parent / "fixtures" / "data-inclusion-v1"


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="module")
def territory() -> Any:
    return build_territory(today=TODAY)


def test_same_seed_same_output() -> None:
    first = generate_territory(26, today=TODAY)
    second = generate_territory(26, today=TODAY)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    other = generate_territory(27, today=TODAY)
    assert json.dumps(other, sort_keys=True) != json.dumps(first, sort_keys=True)
    # Ids do not depend on the seed for the services every structure always offers.
    assert {s["id"] for s in first[0]} == {s["id"] for s in other[0]}


def test_shape_of_the_territory(territory: Any) -> None:
    structures, services = territory.structures, territory.services
    assert 80 <= len(structures) <= 100
    assert 260 <= len(services) <= 330
    kinds = Counter(spec.kind for spec in catalogue().structures)
    for kind in ("ccas", "france-services", "pimms-site", "restos", "france-travail", "cms"):
        assert kinds[kind] >= 3, kind
    ids = [s["id"] for s in structures] + [s["id"] for s in services]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("drome-") for i in ids)
    known = {s["id"] for s in structures}
    assert all(s["structure_id"] in known for s in services)
    assert {s["source"] for s in structures + services} == {SOURCE}
    # Every structure offers at least one service; the PIMMS network is one parent, many sites.
    assert known == {s["structure_id"] for s in services}
    parents = Counter(e["parent"] for e in territory.structure_extras.values() if e["parent"])
    assert parents["drome-pimms-drome"] >= 5
    communes = {s["code_insee"] for s in structures}
    assert len(communes) >= 15


def test_rows_validate_against_the_data_inclusion_schemas(territory: Any) -> None:
    checker = jsonschema.FormatChecker()
    structure_schema = _schema("structure")
    service_schema = _schema("service")
    for row in territory.structures:
        jsonschema.validate(row, structure_schema, format_checker=checker)
        assert set(row) == set(structure_schema["properties"])
    for row in territory.services:
        jsonschema.validate(row, service_schema, format_checker=checker)
        assert set(row) == set(service_schema["properties"])


def test_codes_come_from_the_taxonomies_and_the_geography(territory: Any) -> None:
    geo = geography()
    for row in territory.services:
        assert not taxonomy("thematiques").unknown(row["thematiques"]), row["id"]
        assert not taxonomy("publics").unknown(row["publics"])
        assert row["publics"] == ["tous-publics"] or "tous-publics" not in row["publics"]
        assert row["type"] in taxonomy("types-de-services").values
        assert not taxonomy("modes-accueil").unknown(row["modes_accueil"])
        assert not taxonomy("modes-mobilisation").unknown(row["modes_mobilisation"])
        if "utiliser-lien-mobilisation" in row["modes_mobilisation"]:
            assert row["lien_mobilisation"]
        for code in row["zone_eligibilite"]:
            zone = {5: "commune:", 9: "epci:", 2: "departement:"}.get(len(code), "") + code
            assert geo.valid_zone("france" if code == "france" else zone), code
        if row["modes_accueil"] == ["a-distance"]:
            assert row["code_insee"] is None
    for extra in territory.structure_extras.values():
        assert extra["typology"] in taxonomy("typologies-de-structures").values


def test_places_hours_and_phones_are_plausible(territory: Any) -> None:
    geo = geography()
    for row in territory.structures + territory.services:
        if row["code_insee"] is not None:
            commune = geo.commune(row["code_insee"])
            assert commune is not None
            assert commune.departement == "26"
            assert row["code_postal"] in commune.postal_codes
            lat, lon = catalogue().coordinates[row["code_insee"]]
            assert abs(row["latitude"] - lat) < 0.01
            assert abs(row["longitude"] - lon) < 0.01
        if row["horaires_accueil"]:
            OpeningHours(row["horaires_accueil"])
        if row["telephone"]:
            assert phonenumbers.is_valid_number(phonenumbers.parse(row["telephone"]))
        if row["courriel"]:
            assert row["courriel"].endswith("@demo.relais.example")


def test_freshness_capacity_dead_links_and_drafts(territory: Any) -> None:
    rows = territory.structures + territory.services
    stale = [r for r in rows if date.fromisoformat(r["date_maj"]) < TODAY - timedelta(days=182)]
    recent = [r for r in rows if date.fromisoformat(r["date_maj"]) >= TODAY - timedelta(days=30)]
    assert 0.05 * len(rows) < len(stale) < 0.25 * len(rows)
    assert len(recent) > 0.15 * len(rows)
    extras = territory.service_extras
    capacity = Counter(e["capacity_status"] for e in extras.values())
    assert capacity["full"] >= 3
    assert capacity["waiting_list"] >= 3
    links = [r.get("site_web") or r.get("lien_mobilisation") for r in rows]
    links += [e["appointment_url"] for e in extras.values()]
    dead = [u for u in links if u and u.startswith("https://lien-mort.invalid/")]
    assert len(dead) >= 5
    statuses = Counter(e["status"] for e in extras.values())
    assert 3 <= statuses["draft"] <= 12
    assert any(e["status"] == "draft" for e in territory.structure_extras.values())
    assert any(e["documents_to_bring"] for e in extras.values())


def test_notable_services_exist_and_are_published(territory: Any) -> None:
    services = {s["id"]: s for s in territory.services}
    for query, ids in NOTABLE.items():
        assert ids, query
        for service_id in ids:
            assert service_id in services, (query, service_id)
            assert territory.service_extras[service_id]["status"] == "published", service_id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def demo_system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: Any
) -> Any:
    home = tmp_path_factory.mktemp(f"demo-{request.param}")
    system, stack = await start_relais(request.param, home, tokens)
    async with stack:
        yield system


async def test_seed_demo_imports_everything_and_is_idempotent(demo_system: Any) -> None:
    db = demo_system.app("directory").state.db
    async with db.session() as session:
        first = await seed_demo(session, today=TODAY)
    assert first.imported.rejected == 0, first.imported.errors[:3]
    assert first.imported.created == first.structures + first.services
    assert first.drafts >= 4
    assert first.stale > 10
    async with db.session() as session:
        versions = dict((await session.execute(sa.select(Service.id, Service.version))).all())
        history = await session.scalar(sa.select(sa.func.count()).select_from(HistoryEntry))
    async with db.session() as session:
        second = await seed_demo(session, today=TODAY)
    assert second.imported.unchanged == first.imported.created
    assert second.imported.created == second.imported.updated == 0
    assert second.adjusted == 0
    async with db.session() as session:
        assert dict((await session.execute(sa.select(Service.id, Service.version))).all()) == (
            versions
        )
        assert await session.scalar(sa.select(sa.func.count()).select_from(HistoryEntry)) == history
        # Relais-only facts landed: parent network, documents, capacity, drafts, stale dates.
        site = await session.scalar(
            sa.select(Structure).where(Structure.source_id == "drome-pimms-romans-la-monnaie")
        )
        parent = await session.scalar(
            sa.select(Structure).where(Structure.source_id == "drome-pimms-drome")
        )
        assert site is not None
        assert parent is not None
        assert site.parent_id == parent.id
        assert site.typology == "PIMMS"
        retraite = await session.scalar(
            sa.select(Service).where(
                Service.source_id == "drome-carsat-agence-retraite-valence--preparer-retraite"
            )
        )
        assert retraite is not None
        assert retraite.status == "published"
        assert retraite.documents_to_bring
        full = await session.scalar(
            sa.select(sa.func.count()).select_from(Service).where(Service.capacity_status == "full")
        )
        assert full
    # The API shows the demo: a published notable service is readable anonymously.
    response = await demo_system.client.get(f"/directory/v1/services/{retraite.id}")
    assert response.status_code == 200
    assert response.json()["name"].startswith(("Préparer", "Agence retraite"))
