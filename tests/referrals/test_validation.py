"""Bad input is a 4xx problem+json naming the field — never a 500, never half-written."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.referrals import models as m
from tests.conftest import BACKENDS, free_port, start_relais
from tests.referrals.conftest import World, create_referral, referral_body
from tests.referrals.directory_double import DirectoryDouble
from tests.tokens import TokenFactory, bearer


async def _count(world_app: Any) -> tuple[int, int]:
    async with world_app.state.db.session() as session:
        referrals = await session.scalar(sa.select(sa.func.count()).select_from(m.Referral))
        outbox = await session.scalar(sa.select(sa.func.count()).select_from(m.OutboxEvent))
        return int(referrals or 0), int(outbox or 0)


def _fields(response: Any) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"person": {"birth_year": 1990}}, "person"),
        ({"person": {"first_name": "Jo", "phone": "12"}}, "person.phone"),
        ({"person": {"pseudonym": "J", "email": "pas-une-adresse"}}, "person.email"),
        ({"person": {"pseudonym": "J", "contact_method": "email"}}, "person.email"),
        ({"person": {"pseudonym": "J", "birth_date": "2999-01-01"}}, "person.birth_date"),
        ({"person": {"pseudonym": "J", "birth_year": 1850}}, "person.birth_year"),
        ({"person": {"pseudonym": "J", "unknown": 1}}, "person.unknown"),
        (
            {"person": {"pseudonym": "J", "preferred_language": "français"}},
            "person.preferred_language",
        ),
        ({"need": {"thematiques": ["nope"], "channel": "phone"}}, "need.thematiques"),
        ({"need": {"thematiques": [], "channel": "phone"}}, "need.thematiques"),
        (
            {"need": {"thematiques": ["famille--garde-denfants"], "channel": "pigeon"}},
            "need.channel",
        ),
        (
            {
                "consent": {
                    "given_by": "person",
                    "method": "oral",
                    "purpose": "x",
                    "data_categories": [],
                    "expires_at": "2001-01-01T00:00:00Z",
                }
            },
            "consent.expires_at",
        ),
        (
            {
                "consent": {
                    "given_by": "voisin",
                    "method": "oral",
                    "purpose": "x",
                    "data_categories": [],
                }
            },
            "consent.given_by",
        ),
        ({"target": {"structure_id": "not-a-uuid"}}, "target.structure_id"),
    ],
)
async def test_invalid_referral_names_the_field(
    world: World, change: dict[str, Any], field: str
) -> None:
    ccas, partner = await world.org(), await world.org()
    body = referral_body(partner)
    body.update(change)
    response = await world.client.post("/referrals/v1/referrals", json=body, headers=ccas.member)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(f == field or f.endswith(field) for f in _fields(response)), response.json()


async def test_malformed_json_and_wrong_types_are_4xx(world: World) -> None:
    ccas = await world.org()
    for content in (
        b"{",
        b"[]",
        b'"x"',
        b"null",
        b'{"person": 3}',
        "\ud800".encode("utf-8", "surrogatepass"),
    ):
        response = await world.client.post(
            "/referrals/v1/referrals",
            content=content,
            headers={**ccas.member, "Content-Type": "application/json"},
        )
        assert 400 <= response.status_code < 500, (content, response.text)
    huge = b'{"x": "' + b"a" * 2_000_000 + b'"}'
    response = await world.client.post(
        "/referrals/v1/referrals",
        content=huge,
        headers={**ccas.member, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_bad_path_and_query_values(world: World) -> None:
    ccas = await world.org()
    assert (
        await world.client.get("/referrals/v1/referrals/nope", headers=ccas.member)
    ).status_code in (400, 404)
    missing = await world.client.get(f"/referrals/v1/referrals/{uuid.uuid4()}", headers=ccas.member)
    assert missing.status_code == 404
    for params in (
        {"limit": "0"},
        {"limit": "x"},
        {"since": "hier"},
        {"overdue": "peut-être"},
        {"state": "nope"},
    ):
        response = await world.client.get(
            "/referrals/v1/outbox", params=params, headers=ccas.member
        )
        assert response.status_code == 400, (params, response.text)


@pytest.mark.parametrize(
    ("structure", "service", "field"),
    [
        ({"status": "draft"}, None, "target.structure_id"),
        ({"accepts": False}, None, "target.structure_id"),
        ({}, {"capacity": "full"}, "target.service_id"),
        ({}, {"accepts": False}, "target.service_id"),
        ({}, {"status": "suspended"}, "target.service_id"),
    ],
)
async def test_target_checked_in_the_directory(
    world: World, structure: dict[str, Any], service: dict[str, Any] | None, field: str
) -> None:
    ccas = await world.org()
    partner = await world.org(**structure)
    target: dict[str, Any] = {"structure_id": str(partner.id)}
    if service is not None:
        target["service_id"] = str(await world.service(partner, **service))
    response = await world.client.post(
        "/referrals/v1/referrals", json=referral_body(partner, target=target), headers=ccas.member
    )
    assert response.status_code == 422, response.text
    assert field in _fields(response)


async def test_unknown_target_and_service_of_another_structure(world: World) -> None:
    ccas, partner, other = await world.org(), await world.org(), await world.org()
    unknown = referral_body(partner, target={"structure_id": str(uuid.uuid4())})
    response = await world.client.post("/referrals/v1/referrals", json=unknown, headers=ccas.member)
    assert response.status_code == 422
    foreign_service = await world.service(other)
    body = referral_body(
        partner, target={"structure_id": str(partner.id), "service_id": str(foreign_service)}
    )
    response = await world.client.post("/referrals/v1/referrals", json=body, headers=ccas.member)
    assert response.status_code == 422
    assert "target.service_id" in _fields(response)
    # Referring to oneself makes no sense.
    own = await world.client.post(
        "/referrals/v1/referrals", json=referral_body(ccas), headers=ccas.member
    )
    assert own.status_code == 422


async def test_a_target_the_consent_does_not_name_is_refused(world: World) -> None:
    ccas, partner, caf = await world.org(), await world.org(), await world.org("CAF")
    before = await _count(world.app())
    body = referral_body(partner)
    body["consent"]["recipients"] = [str(caf.id)]
    response = await world.client.post("/referrals/v1/referrals", json=body, headers=ccas.member)
    assert response.status_code == 422, response.text
    assert _fields(response) == {"consent.recipients"}
    detail = response.json()["detail"]
    assert "ne nomme pas la structure d'accueil" in detail
    assert "does not name the target" in detail
    assert await _count(world.app()) == before  # nothing written
    # Named, it is accepted, and the recipients stay exactly those the person agreed to.
    body["consent"]["recipients"] = [str(caf.id), str(partner.id)]
    made = await world.client.post("/referrals/v1/referrals", json=body, headers=ccas.member)
    assert made.status_code == 201, made.text
    assert made.json()["consent"]["recipients"] == [str(caf.id), str(partner.id)]


async def test_a_service_open_to_usagers_only_refuses_a_professional_referral(
    world: World,
) -> None:
    ccas, partner = await world.org(), await world.org()
    usagers_only = await world.service(partner, referable_by=["usagers"])
    body = referral_body(
        partner, target={"structure_id": str(partner.id), "service_id": str(usagers_only)}
    )
    response = await world.client.post("/referrals/v1/referrals", json=body, headers=ccas.member)
    assert response.status_code == 422, response.text
    assert _fields(response) == {"target.service_id"}
    detail = response.json()["detail"]
    assert "ne reçoit que les orientations de : usagers" in detail
    assert "not from a professional" in detail
    # Open to both, or saying nothing about it: accepted.
    for referable_by in (["usagers", "professionnels"], None):
        service = await world.service(partner, referable_by=referable_by)
        body["target"]["service_id"] = str(service)
        made = await world.client.post("/referrals/v1/referrals", json=body, headers=ccas.member)
        assert made.status_code == 201, made.text


@pytest.mark.parametrize("backend", BACKENDS)
async def test_directory_errors_are_503_and_write_nothing(
    backend: str, tmp_path: Path, tokens: TokenFactory
) -> None:
    system, stack = await start_relais(backend, tmp_path, tokens)
    async with stack:
        # A directory answering 5xx or garbage (a double serving the contract's paths).
        double = DirectoryDouble()
        system.app("referrals").state.locator.register("directory", double.app)
        broken = uuid.uuid4()
        double.structures[broken] = {"id": "pas un uuid"}
        headers = bearer(tokens.user(uuid.uuid4()))
        body = referral_body(type("O", (), {"id": broken})())  # type: ignore[arg-type]
        garbage = await system.client.post("/referrals/v1/referrals", json=body, headers=headers)
        assert garbage.status_code == 503, garbage.text
        double.fail_with = 502
        down = await system.client.post("/referrals/v1/referrals", json=body, headers=headers)
        assert down.status_code == 503
        assert down.headers["content-type"].startswith("application/problem+json")
        assert down.headers["retry-after"] == "30"
        assert await _count(system.app("referrals")) == (0, 0)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_directory_unreachable_is_503_and_nothing_written(
    backend: str, tmp_path: Path, tokens: TokenFactory
) -> None:
    system, stack = await start_relais(
        backend, tmp_path, tokens, directory_url=f"http://127.0.0.1:{free_port()}"
    )
    async with stack:
        ccas, partner = uuid.uuid4(), uuid.uuid4()
        body = referral_body(type("O", (), {"id": partner})())  # type: ignore[arg-type]
        response = await system.client.post(
            "/referrals/v1/referrals",
            json=body,
            headers={**bearer(tokens.user(ccas)), "Idempotency-Key": "k-503"},
        )
        assert response.status_code == 503, response.text
        problem = response.json()
        assert problem["type"].endswith("/service-unavailable")
        assert "annuaire" in problem["detail"]
        referrals, outbox = await _count(system.app("referrals"))
        assert (referrals, outbox) == (0, 0)
        async with system.app("referrals").state.db.session() as session:
            keys = await session.scalar(sa.select(sa.func.count()).select_from(m.IdempotencyRecord))
        assert keys == 0


async def test_problem_details_are_french(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    response = await world.client.post(
        f"/referrals/v1/referrals/{created['id']}/close",
        json={"outcome": "solution_found"},
        headers=ccas.member,
    )
    assert response.status_code == 409
    assert "prise en charge" in response.json()["detail"]


async def test_a_request_that_came_by_post_is_accepted(world: World) -> None:
    sender, receiver = await world.org("CCAS"), await world.org("CMS")
    need = {**referral_body(receiver)["need"], "channel": "postal"}
    created = await create_referral(world, sender, receiver, need=need)
    assert created["need"]["channel"] == "postal"
