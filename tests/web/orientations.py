"""Helpers of the orientations tests: three structures of the demo territory, their staff signed
in to the web app, a referral recorded through the API, and forms posted as a browser does."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from services.directory.models import Service
from tests.auth.helpers import make_app_client, user_tokens
from tests.conftest import Relais
from tests.tokens import bearer
from tests.web.helpers import demo_structure, sign_in

THEMATIQUE = "logement-hebergement--se-maintenir-dans-le-logement"
PERSON = {
    "first_name": "Josiane",
    "last_name": "Webformtest",
    "birth_year": 1961,
    "contact_method": "phone",
    "phone": "06 98 76 54 32",
}
SUMMARY = "Facture d’énergie impayée, coupure annoncée."


@dataclass
class Agent:
    """A staff member signed in to the web app, and the same person's API headers."""

    structure_id: uuid.UUID
    web: httpx.AsyncClient
    email: str
    api: dict[str, str]


async def agent(relais: Relais, name_part: str, role: str = "member") -> Agent:
    structure_id = await demo_structure(relais, name_part)
    web, email = await sign_in(relais, structure_id, role)
    client_id, _ = await make_app_client(relais)
    tokens = await user_tokens(relais, client_id, email)
    return Agent(structure_id, web, email, bearer(tokens["access_token"]))


async def service_of(relais: Relais, structure_id: uuid.UUID) -> uuid.UUID:
    async with relais.app("directory").state.db.session() as session:
        found = await session.scalar(
            sa.select(Service.id)
            .where(Service.structure_id == structure_id, Service.status == "published")
            .order_by(Service.name)
            .limit(1)
        )
    assert found is not None
    return found


async def refer(relais: Relais, sender: Agent, receiver: Agent, **consent: Any) -> dict[str, Any]:
    """A referral recorded through the API, as the orientation form would send it."""
    body = {
        "person": PERSON,
        "need": {"thematiques": [THEMATIQUE], "summary": SUMMARY, "channel": "walk_in"},
        "consent": {
            "given_by": "person",
            "method": "oral",
            "purpose": "Trouver une aide pour la facture d’énergie",
            "data_categories": ["identity", "contact", "situation"],
            "recipients": [str(receiver.structure_id)],
            **consent,
        },
        "target": {"structure_id": str(receiver.structure_id)},
    }
    response = await relais.client.post("/referrals/v1/referrals", json=body, headers=sender.api)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def reference(referral_id: str) -> str:
    return f"OR-{uuid.UUID(referral_id).hex[-8:].upper()}"


def form_fields(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to ``action`` (CSRF token, key, version)."""
    match = re.search(
        rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S
    )
    assert match, f"no form to {action} on the page"
    return {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(1)
        )
    }


async def submit(web: httpx.AsyncClient, page: str, action: str, **values: str) -> httpx.Response:
    return await web.post(action, data={**form_fields(page, action), **values})


async def follow(web: httpx.AsyncClient, response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    page = await web.get(response.headers["location"])
    assert page.status_code == 200, page.text
    return page.text
