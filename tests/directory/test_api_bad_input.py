"""Bad input: each answered with the right 4xx problem+json naming the field,
and nothing written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.directory.helpers import (
    BASE,
    admin,
    create_service,
    create_structure,
    moderator,
    service_body,
    structure_body,
)
from tests.tokens import TokenFactory


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors") or []}


async def count_structures(client: httpx.AsyncClient, tokens: TokenFactory, name: str) -> int:
    found = 0
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200, "status": ["draft", "published"]}
        if cursor:
            params["cursor"] = cursor
        page = (
            await client.get(f"{BASE}/structures", params=params, headers=moderator(tokens))
        ).json()
        found += sum(1 for i in page["items"] if i["name"] == name)
        cursor = page["next_cursor"]
        if not cursor:
            return found


async def test_malformed_json(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    response = await client.post(
        f"{BASE}/structures",
        content=b'{"name": "x",',
        headers={**moderator(tokens), "Content-Type": "application/json"},
    )
    problem(response, 400)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": 12}, "name"),
        ({"latitude": "nord"}, "latitude"),
        ({"networks": "caf"}, "networks"),
        ({"accepts_referrals": "oui"}, "accepts_referrals"),
        ({"status": "archived"}, "status"),
        ({"name": ""}, "name"),
        ({"name": "x" * 301}, "name"),
        ({"description": "nul \x00 interdit"}, "description"),
        ({"parent_id": "pas-un-uuid"}, "parent_id"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"typology": "PAS-UNE-TYPOLOGIE"}, "typology"),
        ({"networks": ["reseau-imaginaire"]}, "networks"),
        ({"siret": "73282932000075"}, "siret"),
        ({"phone": "12 34"}, "phone"),
        ({"email": "pas-une-adresse"}, "email"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"commune_code": "99999"}, "commune_code"),
        ({"postal_code": "75001"}, "postal_code"),  # not Rennes' postal code
        ({"opening_hours": "du lundi au vendredi"}, "opening_hours"),
        ({"latitude": 123.0}, "latitude"),
        ({"longitude": -500.0}, "longitude"),
    ],
)
async def test_bad_structure_fields(
    client: httpx.AsyncClient, tokens: TokenFactory, overrides: dict[str, Any], field: str
) -> None:
    name = f"Ne doit pas exister {uuid.uuid4().hex}"
    body = structure_body(name=name, **overrides) if "name" not in overrides else None
    if body is None:
        body = structure_body(**overrides)
    response = await client.post(f"{BASE}/structures", json=body, headers=moderator(tokens))
    data = problem(response, 422)
    named = fields(data) | {data["detail"]}
    assert any(field in f for f in named), data
    assert await count_structures(client, tokens, name) == 0


async def test_out_of_range_number(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    response = await client.post(
        f"{BASE}/structures",
        content=b'{"name": "Trop loin", "latitude": 1e999, "longitude": 2}',
        headers={**moderator(tokens), "Content-Type": "application/json"},
    )
    # msgspec rejects the number while decoding (no field path at that stage): a 400.
    problem(response, 400)


async def test_all_field_errors_reported_at_once(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    body = structure_body(siret="1", phone="1", email="x", opening_hours="nope", latitude=100.0)
    data = problem(
        await client.post(f"{BASE}/structures", json=body, headers=moderator(tokens)), 422
    )
    assert {"siret", "phone", "email", "opening_hours", "latitude"} <= fields(data)


@pytest.mark.parametrize(
    ("overrides", "field", "value"),
    [
        ({"thematiques": ["alimentation-imaginaire"]}, "thematiques", "alimentation-imaginaire"),
        ({"publics": ["martiens"]}, "publics", "martiens"),
        ({"type": "magie"}, "type", "magie"),
        ({"fees": "hors-de-prix"}, "fees", "hors-de-prix"),
        ({"reception_modes": ["par-pigeon"]}, "reception_modes", "par-pigeon"),
        ({"eligibility_zones": ["commune:00000"]}, "eligibility_zones[0]", "commune:00000"),
        ({"contact_phone": "0000"}, "contact_phone", None),
        ({"referral_response_days": 0}, "referral_response_days", None),
        ({"capacity_status": "overbooked"}, "capacity_status", None),
        ({"capacity_until": "demain"}, "capacity_until", None),
        ({"referral_response_days": 10**12}, "referral_response_days", None),
    ],
)
async def test_bad_service_fields(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    overrides: dict[str, Any],
    field: str,
    value: str | None,
) -> None:
    sid = (await create_structure(client, tokens))["id"]
    response = await client.post(
        f"{BASE}/services", json=service_body(sid, **overrides), headers=admin(tokens, sid)
    )
    data = problem(response, 422)
    assert field in fields(data), data
    if value is not None:
        error = next(e for e in data["errors"] if e["field"] == field)
        assert error["value"] == value
        assert value in error["reason"]
    listed = await client.get(f"{BASE}/services", params={"structure_id": sid})
    assert listed.json()["items"] == []


async def test_bad_patch_writes_nothing(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    sid = (await create_structure(client, tokens))["id"]
    svc = (await create_service(client, tokens, sid))["id"]
    headers = {**admin(tokens, sid), "If-Match": '"1"'}
    response = await client.patch(
        f"{BASE}/services/{svc}",
        json={"name": "Nouveau nom", "thematiques": ["inconnue"]},
        headers=headers,
    )
    assert "thematiques" in fields(problem(response, 422))
    unknown = await client.patch(f"{BASE}/services/{svc}", json={"nom": "x"}, headers=headers)
    problem(unknown, 422)
    null_name = await client.patch(f"{BASE}/services/{svc}", json={"name": None}, headers=headers)
    assert "name" in fields(problem(null_name, 422))
    current = await client.get(f"{BASE}/services/{svc}")
    assert current.json()["version"] == 1
    assert current.json()["name"] != "Nouveau nom"


async def test_oversize_body(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    body = structure_body(description="x" * 2_000_000)
    problem(await client.post(f"{BASE}/structures", json=body, headers=moderator(tokens)), 413)


async def test_unknown_ids_and_bad_paths(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    for kind in ("structures", "services", "places"):
        problem(await client.get(f"{BASE}/{kind}/{uuid.uuid4()}"), 404)
        problem(await client.get(f"{BASE}/{kind}/{uuid.uuid4()}/history"), 404)
        problem(
            await client.patch(
                f"{BASE}/{kind}/{uuid.uuid4()}",
                json={"name": "x"},
                headers={**moderator(tokens), "If-Match": '"1"'},
            ),
            404,
        )
        problem(await client.get(f"{BASE}/{kind}/not-a-uuid"), 404)


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "%%%"},
        {"cursor": "bm90LWpzb24"},
        {"cursor": "WyJub3QtYS11dWlkIl0"},
        {"limit": 0},
        {"limit": 1000},
        {"limit": "many"},
        {"status": "deleted"},
        {"commune": "99999"},
        {"thematique": "nope"},
        {"updated_since": "hier"},
        {"structure_id": "x"},
    ],
)
async def test_bad_query_parameters(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    data = problem(await client.get(f"{BASE}/services", params=params), 400)
    assert fields(data), data


async def test_cursor_of_another_ordering_is_rejected(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    sid = (await create_structure(client, tokens))["id"]
    for _ in range(2):
        await create_service(client, tokens, sid)
    first = (await client.get(f"{BASE}/services", params={"structure_id": sid, "limit": 1})).json()
    mixed = await client.get(
        f"{BASE}/services",
        params={
            "structure_id": sid,
            "limit": 1,
            "cursor": first["next_cursor"],
            "updated_since": "2020-01-01T00:00:00Z",
        },
    )
    assert fields(problem(mixed, 400)) == {"cursor"}
