"""Streamed exports: data·inclusion v1 JSON/CSV round-trip through the importer, HSDS JSON."""

from __future__ import annotations

import csv
import io

import httpx
import sqlalchemy as sa

from services.directory import models as m
from services.directory.interop.files import read_bytes
from tests.conftest import Relais
from tests.directory.test_hsds import validate
from tests.directory.test_import import _import, service_row, structure_row, unique_source

BASE = "/directory/v1/exports"


async def test_exports_round_trip(relais: Relais) -> None:
    client = relais.client
    source = unique_source()
    structures = [structure_row(source)]
    services = [service_row(source), service_row(source, "v2", nom="Accès aux droits")]
    report = await _import(relais, structures, services)
    assert report.created == 3

    response = await client.get(f"{BASE}/data-inclusion/services")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    exported = [s for s in response.json() if s["source"] == source]
    assert {s["id"] for s in exported} == {"v1", "v2"}
    v1 = next(s for s in exported if s["id"] == "v1")
    assert v1["structure_id"] == "s1"
    assert v1["zone_eligibilite"] == ["59350", "59", "200093201", "france"]
    assert v1["telephone"] == "+33320000001"
    assert v1["contact_nom_prenom"] is None
    # The source's date goes back out as it came in (an import is not an update of the content).
    assert v1["date_maj"] == "2025-02-14"

    structures_json = (await client.get(f"{BASE}/data-inclusion/structures")).json()
    mine = [s for s in structures_json if s["source"] == source]
    assert [s["nom"] for s in mine] == ["Centre social Le Tournesol"]

    # Re-importing what was exported changes nothing.
    again = await _import(relais, mine, exported)
    assert again.rejected == 0, again.errors
    assert again.created == 0
    assert again.updated == 0

    csv_response = await client.get(f"{BASE}/data-inclusion/services", params={"format": "csv"})
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    assert {r["id"] for r in rows if r["source"] == source} == {"v1", "v2"}
    parsed = read_bytes(csv_response.content, "services.csv")
    csv_again = await _import(
        relais,
        [],
        [r for r in parsed.services if r["source"] == source],
        service_rows=None,
    )
    assert csv_again.rejected == 0, csv_again.errors
    assert csv_again.created == 0

    hsds_services = (await client.get(f"{BASE}/hsds/services")).json()
    for item in hsds_services:
        validate(item, "service.json")
    # Each exported service says where it is delivered, as its HSDS detail does (here the
    # structure's address: the imported services have none of their own).
    db = relais.app("directory").state.db
    async with db.session() as session:
        ids = {
            str(i)
            for i in await session.scalars(
                sa.select(m.Service.id).where(m.Service.source == source)
            )
        }
    mine_hsds = [i for i in hsds_services if i["id"] in ids]
    assert len(mine_hsds) == 2
    for item in mine_hsds:
        detail = (await client.get(f"/directory/hsds/services/{item['id']}")).json()
        assert item["service_at_locations"], item
        assert item["service_at_locations"] == detail["service_at_locations"]
        assert item["service_at_locations"][0]["location_id"] == item["organization_id"]
    hsds_orgs = (await client.get(f"{BASE}/hsds/organizations")).json()
    for item in hsds_orgs:
        validate(item, "organization.json")


async def test_only_published_entries_leave(relais: Relais) -> None:
    client = relais.client
    source = unique_source()
    await _import(relais, [structure_row(source)], [service_row(source), service_row(source, "v2")])
    db = relais.app("directory").state.db
    async with db.session() as session:
        await session.execute(
            sa.update(m.Service)
            .where(m.Service.source == source, m.Service.source_id == "v2")
            .values(status="suspended")
        )
    services = (await client.get(f"{BASE}/data-inclusion/services")).json()
    assert {s["id"] for s in services if s["source"] == source} == {"v1"}
    async with db.session() as session:
        await session.execute(
            sa.update(m.Structure).where(m.Structure.source == source).values(status="draft")
        )
    services = (await client.get(f"{BASE}/data-inclusion/services")).json()
    structures = (await client.get(f"{BASE}/data-inclusion/structures")).json()
    assert source not in {s["source"] for s in services + structures}


async def test_unknown_kinds_are_problems(client: httpx.AsyncClient) -> None:
    for url in (f"{BASE}/data-inclusion/nope", f"{BASE}/hsds/nope"):
        response = await client.get(url)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
    response = await client.get(f"{BASE}/data-inclusion/services", params={"format": "xml"})
    assert response.status_code == 400
