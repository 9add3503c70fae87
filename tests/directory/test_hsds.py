"""HSDS 3.1 view: every response validated against the HSDS JSON schemas (copied in fixtures)."""

from __future__ import annotations

import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import sqlalchemy as sa
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from services.directory import models as m
from tests.conftest import Relais
from tests.directory.helpers import moderator
from tests.directory.test_import import service_row, structure_row, unique_source

SCHEMAS = Path(__file__).parent / "fixtures" / "hsds"
BASE = "/directory/hsds"


@cache
def registry() -> Registry:
    resources = []
    for path in SCHEMAS.glob("*.json"):
        contents = json.loads(path.read_text())
        resources.append(
            (path.name, Resource.from_contents(contents, default_specification=DRAFT202012))
        )
    return Registry().with_resources(resources)


def validate(document: Any, schema: str) -> None:
    contents = json.loads((SCHEMAS / schema).read_text())
    validator = jsonschema.Draft202012Validator(
        contents, registry=registry(), format_checker=jsonschema.FormatChecker()
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def validate_page(document: dict[str, Any], item_schema: str) -> list[dict[str, Any]]:
    validate(document, "page.json")
    for key in ("total_items", "total_pages", "page_number", "size", "first_page", "last_page"):
        assert key in document
    for item in document["contents"]:
        validate(item, item_schema)
    assert document["size"] == len(document["contents"])
    return list(document["contents"])


async def get_json(client: httpx.AsyncClient, url: str, **params: Any) -> Any:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


async def seeded(relais: Relais) -> dict[str, Any]:
    """A published structure with two services (one with its own address), via the import."""
    source = unique_source()
    body = {
        "structures": [structure_row(source)],
        "services": [
            service_row(source, "v1"),
            service_row(
                source,
                "v2",
                nom="Permanence logement",
                thematiques=["logement-hebergement--louer-un-logement"],
                publics=["jeunes"],
                adresse="3 rue de Lille",
                code_postal="59000",
                code_insee="59350",
            ),
        ],
    }
    response = await relais.client.post(
        "/directory/v1/imports", json=body, headers=moderator(relais.tokens)
    )
    assert response.json()["created"] == 3, response.text
    db = relais.app("directory").state.db
    async with db.session() as session:
        structure_id = await session.scalar(
            sa.select(m.Structure.id).where(m.Structure.source == source)
        )
    page = await get_json(relais.client, f"{BASE}/organizations", search="Tournesol", per_page=200)
    return {
        "source": source,
        "organizations": [o for o in page["contents"] if o["id"] == str(structure_id)],
    }


async def test_root_and_taxonomies(client: httpx.AsyncClient) -> None:
    root = await get_json(client, f"{BASE}/")
    assert root["version"] == "3.1"
    assert root["openapi_url"].endswith("/directory/docs/openapi.json")
    taxonomies = validate_page(await get_json(client, f"{BASE}/taxonomies"), "taxonomy.json")
    assert {t["name"] for t in taxonomies} >= {"thematiques", "publics"}
    one = await get_json(client, f"{BASE}/taxonomies/{taxonomies[0]['id']}")
    validate(one, "taxonomy.json")

    thematiques = next(t for t in taxonomies if t["name"] == "thematiques")
    top = validate_page(
        await get_json(
            client, f"{BASE}/taxonomy_terms", taxonomy_id=thematiques["id"], top_only="true"
        ),
        "taxonomy_term.json",
    )
    assert len(top) == 16
    children = validate_page(
        await get_json(client, f"{BASE}/taxonomy_terms", parent_id=top[0]["id"], per_page=200),
        "taxonomy_term.json",
    )
    assert children
    assert all(c["parent_id"] == top[0]["id"] for c in children)
    term = await get_json(client, f"{BASE}/taxonomy_terms/{children[0]['id']}")
    validate(term, "taxonomy_term.json")
    page2 = await get_json(client, f"{BASE}/taxonomy_terms", page=2, per_page=10)
    validate_page(page2, "taxonomy_term.json")
    assert page2["page_number"] == 2
    assert not page2["first_page"]


async def test_services_organizations_locations(relais: Relais) -> None:
    client = relais.client
    data = await seeded(relais)
    [org] = data["organizations"]
    validate(org, "organization.json")

    full_org = await get_json(client, f"{BASE}/organizations/{org['id']}")
    validate(full_org, "organization.json")
    assert full_org["organization_identifiers"][0]["identifier"] == "13003013300016"
    assert len(full_org["services"]) == 2

    services = validate_page(
        await get_json(client, f"{BASE}/services", organization_id=org["id"]), "service.json"
    )
    assert {s["name"] for s in services} == {"Aide alimentaire", "Permanence logement"}
    assert all(s["status"] == "active" for s in services)

    for service in services:
        full = await get_json(client, f"{BASE}/services/{service['id']}")
        validate(full, "service.json")
        assert full["organization"]["id"] == org["id"]
        assert full["service_at_locations"], full
        for sal in full["service_at_locations"]:
            one = await get_json(client, f"{BASE}/service_at_locations/{sal['id']}")
            validate(one, "service_at_location.json")
            location = await get_json(client, f"{BASE}/locations/{sal['location_id']}")
            validate(location, "location.json")
    aide = next(s for s in services if s["name"] == "Aide alimentaire")
    full = await get_json(client, f"{BASE}/services/{aide['id']}")
    assert {a["description"] for a in full["service_areas"]} >= {"commune:59350", "france"}
    assert full["service_at_locations"][0]["location_id"] == org["id"]  # the structure's address

    # filters: taxonomy term (a category covers its sub-thematiques), search, modified_after
    logement = await get_json(
        client,
        f"{BASE}/services",
        organization_id=org["id"],
        taxonomy_term_id="logement-hebergement",
    )
    assert [s["name"] for s in logement["contents"]] == ["Permanence logement"]
    jeunes = await get_json(
        client, f"{BASE}/services", organization_id=org["id"], taxonomy_term_id="publics:jeunes"
    )
    assert jeunes["total_items"] == 1
    found = await get_json(
        client, f"{BASE}/services", organization_id=org["id"], search="PERMANENCE"
    )
    assert found["total_items"] == 1
    future = await get_json(
        client, f"{BASE}/services", organization_id=org["id"], modified_after="2999-01-01"
    )
    assert future["empty"] is True
    assert future["total_items"] == 0

    locations = validate_page(
        await get_json(client, f"{BASE}/locations", organization_id=org["id"]), "location.json"
    )
    assert len(locations) == 2  # the structure and the service with its own address
    sals = validate_page(
        await get_json(client, f"{BASE}/service_at_locations", organization_id=org["id"]),
        "service_at_location.json",
    )
    assert len(sals) == 2
    orgs = validate_page(
        await get_json(
            client, f"{BASE}/organizations", taxonomy_term_id="reseaux-porteurs:ccas-cias"
        ),
        "organization.json",
    )
    assert org["id"] in {o["id"] for o in orgs}


async def test_errors_are_problems(client: httpx.AsyncClient) -> None:
    cases = [
        (f"{BASE}/services/{uuid.uuid4()}", 404),
        (f"{BASE}/services/not-a-uuid", 404),
        (f"{BASE}/organizations/{uuid.uuid4()}", 404),
        (f"{BASE}/locations/{uuid.uuid4()}", 404),
        (f"{BASE}/service_at_locations/{uuid.uuid4()}", 404),
        (f"{BASE}/taxonomy_terms/nope", 404),
        (f"{BASE}/taxonomies/nope", 404),
        (f"{BASE}/services?page=0", 400),
        (f"{BASE}/services?per_page=1000", 400),
        (f"{BASE}/services?page=abc", 400),
        (f"{BASE}/services?taxonomy_term_id=nope", 400),
        (f"{BASE}/services?organization_id=nope", 400),
        (f"{BASE}/services?modified_after=yesterday", 400),
    ]
    for url, status in cases:
        response = await client.get(url)
        assert response.status_code == status, (url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), url
