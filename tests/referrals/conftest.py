"""Fixtures of the referrals tests: the whole system per backend (the shared ``relais``), partners
created in the real directory through its API, and callers of every kind for each structure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import Relais
from tests.tokens import TokenFactory, bearer

THEMATIQUE = "logement-hebergement--se-maintenir-dans-le-logement"


@dataclass
class Org:
    """A structure of the network and callers acting for it."""

    id: uuid.UUID
    name: str
    tokens: TokenFactory
    member_subject: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def member(self) -> dict[str, str]:
        return bearer(self.tokens.user(self.id, ("member",), subject=self.member_subject))

    @property
    def admin(self) -> dict[str, str]:
        return bearer(self.tokens.user(self.id, ("admin",)))

    def client(self, *scopes: str) -> dict[str, str]:
        return bearer(self.tokens.client(self.id, scopes))


@dataclass
class World:
    """The running system, with partners created in the real directory through its public API."""

    relais: Relais
    moderator_subject: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def client(self) -> httpx.AsyncClient:
        return self.relais.client

    @property
    def backend(self) -> str:
        return self.relais.backend

    def app(self) -> Any:
        return self.relais.app("referrals")

    @property
    def moderator(self) -> dict[str, str]:
        token = self.relais.tokens.user(
            uuid.uuid4(), ("moderator",), subject=self.moderator_subject
        )
        return bearer(token)

    async def org(
        self, name: str = "Partenaire", *, status: str = "published", accepts: bool = True
    ) -> Org:
        response = await self.client.post(
            "/directory/v1/structures",
            json={
                "name": f"{name} {uuid.uuid4().hex[:6]}",
                "status": status,
                "accepts_referrals": accepts,
                "email": "accueil@example.org",
            },
            headers=self.moderator,
        )
        assert response.status_code == 201, response.text
        return Org(uuid.UUID(response.json()["id"]), name, self.relais.tokens)

    async def service(
        self,
        org: Org,
        *,
        capacity: str = "accepting",
        days: int | None = None,
        status: str = "published",
        accepts: bool = True,
        referable_by: list[str] | None = None,
    ) -> uuid.UUID:
        response = await self.client.post(
            "/directory/v1/services",
            json={
                "structure_id": str(org.id),
                "name": "Accompagnement logement",
                "status": "published" if status == "suspended" else status,
                "capacity_status": capacity,
                "accepts_referrals": accepts,
                "referral_response_days": days,
                "thematiques": [THEMATIQUE],
                "referable_by": referable_by or [],
            },
            headers=self.moderator,
        )
        assert response.status_code == 201, response.text
        service_id = uuid.UUID(response.json()["id"])
        if status == "suspended":
            suspended = await self.client.post(
                f"/directory/v1/services/{service_id}/suspend",
                headers={**self.moderator, "If-Match": response.headers["etag"]},
            )
            assert suspended.status_code == 200, suspended.text
        return service_id


@pytest.fixture
def world(relais: Relais) -> World:
    return World(relais)


def referral_body(receiver: Org, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "person": {
            "first_name": "Aïcha",
            "last_name": "Benali-Testperson",
            "birth_year": 1984,
            "contact_method": "phone",
            "phone": "06 12 34 56 78",
            "preferred_language": "fr",
        },
        "need": {
            "thematiques": [THEMATIQUE],
            "summary": "Expulsion prévue fin du mois, deux enfants.",
            "urgency": "high",
            "channel": "walk_in",
            "age_band": "26_44",
            "sex": "female",
        },
        "consent": {
            "given_by": "person",
            "method": "oral",
            "purpose": "Accompagnement vers un hébergement",
            "data_categories": ["identity", "contact", "situation", "documents"],
            "onward_relay_allowed": True,
            "further_partners": True,
        },
        "target": {"structure_id": str(receiver.id)},
    }
    for key, value in overrides.items():
        body[key] = value
    consent, target = body.get("consent"), body.get("target")
    if isinstance(consent, dict) and isinstance(target, dict) and "recipients" not in consent:
        # The consent names the target (required); tests of that rule pass recipients themselves.
        body["consent"] = {**consent, "recipients": [target.get("structure_id")]}
    return body


PERSONAL_VALUES = (
    "Aïcha",
    "Benali-Testperson",
    "+33612345678",
    "06 12 34 56 78",
    "Expulsion prévue",
)


async def create_referral(
    world: World,
    sender: Org,
    receiver: Org,
    headers: dict[str, str] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    response = await world.client.post(
        "/referrals/v1/referrals",
        json=referral_body(receiver, **overrides),
        headers=headers or sender.member,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def act(
    world: World,
    org_headers: dict[str, str],
    referral_id: str,
    handoff: dict[str, Any],
    action: str,
    body: dict[str, Any] | None = None,
    *,
    expect: int = 200,
) -> dict[str, Any]:
    """Run a handoff transition with the handoff's current version in If-Match."""
    response = await world.client.post(
        f"/referrals/v1/referrals/{referral_id}/handoffs/{handoff['id']}/{action}",
        json=body,
        headers={**org_headers, "If-Match": f'"{handoff["version"]}"'},
    )
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def read(world: World, headers: dict[str, str], referral_id: str) -> dict[str, Any]:
    response = await world.client.get(f"/referrals/v1/referrals/{referral_id}", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def close_both_parts(
    world: World,
    referral_id: str,
    first: dict[str, str],
    second: dict[str, str],
    body: dict[str, Any],
) -> dict[str, Any]:
    """Each side closes its part (``first``'s with ``body``, then ``second``'s with the same
    outcome): the referral ends."""
    url = f"/referrals/v1/referrals/{referral_id}/close"
    for headers, part in ((first, body), (second, {"outcome": body["outcome"]})):
        response = await world.client.post(url, json=part, headers=headers)
        assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["status"] == "closed"
    return result
