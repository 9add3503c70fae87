"""Idempotency-Key on every POST: a retry returns the first response and creates nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import sqlalchemy as sa

from services.referrals import models as m
from tests.referrals.conftest import World, create_referral, referral_body


async def _referrals_of(world: World, structure: uuid.UUID) -> int:
    async with world.app().state.db.session() as session:
        count = await session.scalar(
            sa.select(sa.func.count())
            .select_from(m.Referral)
            .where(m.Referral.structure_id == structure)
        )
        return int(count or 0)


async def test_retry_returns_first_response_and_creates_nothing(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    headers = {**ccas.member, "Idempotency-Key": f"create-{uuid.uuid4()}"}
    body = referral_body(partner)
    first = await world.client.post("/referrals/v1/referrals", json=body, headers=headers)
    assert first.status_code == 201
    again = await world.client.post("/referrals/v1/referrals", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await _referrals_of(world, ccas.id) == 1

    changed = dict(body, need={**body["need"], "urgency": "urgent"})
    conflict = await world.client.post("/referrals/v1/referrals", json=changed, headers=headers)
    assert conflict.status_code == 422
    assert conflict.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await _referrals_of(world, ccas.id) == 1


async def test_keys_are_scoped_to_the_caller(world: World) -> None:
    ccas, other, partner = await world.org(), await world.org(), await world.org()
    key = f"shared-{uuid.uuid4()}"
    for org in (ccas, other):
        response = await world.client.post(
            "/referrals/v1/referrals",
            json=referral_body(partner),
            headers={**org.member, "Idempotency-Key": key},
        )
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    assert await _referrals_of(world, ccas.id) == 1
    assert await _referrals_of(world, other.id) == 1


async def test_transition_retry_replays_despite_new_version(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    url = f"/referrals/v1/referrals/{created['id']}/handoffs/{created['handoffs'][0]['id']}/accept"
    headers = {**partner.member, "If-Match": '"1"', "Idempotency-Key": "accept-once"}
    first = await world.client.post(url, headers=headers)
    assert first.status_code == 200
    retry = await world.client.post(url, headers=headers)
    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert retry.headers["etag"] == '"2"'
    # Without the key, the stale If-Match is refused.
    no_key = {k: v for k, v in headers.items() if k != "Idempotency-Key"}
    assert (await world.client.post(url, headers=no_key)).status_code == 412


async def test_concurrent_retries_create_one_referral(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    headers = {**ccas.member, "Idempotency-Key": f"burst-{uuid.uuid4()}"}
    body = referral_body(partner)
    responses = await asyncio.gather(
        *(
            world.client.post("/referrals/v1/referrals", json=body, headers=headers)
            for _ in range(8)
        )
    )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _referrals_of(world, ccas.id) == 1


async def test_bad_key_is_400(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    response = await world.client.post(
        "/referrals/v1/referrals",
        json=referral_body(partner),
        headers={**ccas.member, "Idempotency-Key": "espace interdite"},
    )
    assert response.status_code == 400
    assert await _referrals_of(world, ccas.id) == 0


async def test_a_hundred_concurrent_replays_all_get_the_first_answer(world: World) -> None:
    """One transition sent 100 times at once with the same Idempotency-Key (a client retrying
    through a flaky network): each gets the first answer, none a 409/412 from racing the
    first, and it is done once."""
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    handoff = created["handoffs"][0]
    url = f"/referrals/v1/referrals/{created['id']}/handoffs/{handoff['id']}/accept"
    headers = {**partner.member, "If-Match": '"1"', "Idempotency-Key": f"acc-{uuid.uuid4()}"}
    responses = await asyncio.gather(*(world.client.post(url, headers=headers) for _ in range(100)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({200: 100}), (statuses, {r.text for r in responses})
    assert len({r.content for r in responses}) == 1
    assert {r.headers["etag"] for r in responses} == {'"2"'}
    async with world.app().state.db.session() as session:
        accepted = await session.scalar(
            sa.select(sa.func.count())
            .select_from(m.TimelineEvent)
            .where(
                m.TimelineEvent.referral_id == uuid.UUID(created["id"]),
                m.TimelineEvent.type == "handoff.accepted",
            )
        )
    assert accepted == 1
