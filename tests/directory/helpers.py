"""Shared helpers of the directory API tests: tokens and entry factories with unique values."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.tokens import TokenFactory, bearer

BASE = "/directory/v1"


def moderator(tokens: TokenFactory) -> dict[str, str]:
    return bearer(tokens.user(None, roles=("moderator",)))


def admin(tokens: TokenFactory, structure_id: str) -> dict[str, str]:
    return bearer(tokens.user(structure_id, roles=("admin",)))


def member(tokens: TokenFactory, structure_id: str) -> dict[str, str]:
    return bearer(tokens.user(structure_id, roles=("member",)))


def writer_client(tokens: TokenFactory, structure_id: str) -> dict[str, str]:
    return bearer(tokens.client(structure_id, ["directory:read", "directory:write"]))


def structure_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"CCAS test {uuid.uuid4().hex[:8]}",
        "siret": "73282932000074",
        "typology": "CCAS",
        "networks": ["ccas-cias"],
        "phone": "02 99 00 00 00",
        "email": "accueil@ccas.example.org",
        "website": "https://ccas.example.org",
        "opening_hours": "Mo-Fr 09:00-12:00",
        "address": "1 place de la Mairie",
        "postal_code": "35000",
        "commune_code": "35238",
        "latitude": 48.11,
        "longitude": -1.68,
        "status": "published",
    }
    body.update(overrides)
    return body


def service_body(structure_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "structure_id": structure_id,
        "name": f"Aide alimentaire {uuid.uuid4().hex[:8]}",
        "description": "Colis alimentaires chaque semaine.",
        "type": "aide-materielle",
        "thematiques": ["equipement-et-alimentation--alimentation"],
        "publics": ["tous-publics"],
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "referral_modes": ["telephoner"],
        "referable_by": ["professionnels"],
        "eligibility_zones": ["commune:35238"],
        "contact_name": "Camille Martin",
        "contact_phone": "02 99 11 22 33",
        "contact_email": "camille@ccas.example.org",
        "contact_public": False,
        "status": "published",
    }
    body.update(overrides)
    return body


async def create_structure(
    client: httpx.AsyncClient, tokens: TokenFactory, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{BASE}/structures", json=structure_body(**overrides), headers=moderator(tokens)
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def create_service(
    client: httpx.AsyncClient, tokens: TokenFactory, structure_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{BASE}/services",
        json=service_body(structure_id, **overrides),
        headers=admin(tokens, structure_id),
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data
