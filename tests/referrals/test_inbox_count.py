"""GET /referrals/v1/inbox/count: how many handoffs of my inbox match the inbox's filters."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from services.kernel.clock import utcnow
from services.referrals import models as m
from tests.referrals.conftest import World, act, create_referral


async def test_inbox_count_follows_the_inbox_filters(world: World) -> None:
    ccas, partner, other = await world.org(), await world.org(), await world.org()
    first = await create_referral(world, ccas, partner)
    second = await create_referral(
        world, ccas, partner, need={"thematiques": ["famille--garde-denfants"], "channel": "phone"}
    )
    await create_referral(world, ccas, other)
    await act(world, partner.member, second["id"], second["handoffs"][0], "accept")

    async def count(**params: object) -> int:
        response = await world.client.get(
            "/referrals/v1/inbox/count", params=params, headers=partner.member
        )
        assert response.status_code == 200, response.text
        value: int = response.json()["count"]
        return value

    assert await count() == 2
    assert await count(state=["sent", "acknowledged"]) == 1
    assert await count(thematique="famille--garde-denfants") == 1
    assert await count(overdue="true") == 0
    # The first one passes its answer deadline: overdue.
    async with world.app().state.db.session() as session:
        await session.execute(
            sa.update(m.Handoff)
            .where(m.Handoff.id == uuid.UUID(first["handoffs"][0]["id"]))
            .values(respond_by=utcnow() - timedelta(hours=1))
        )
    assert await count(overdue="true") == 1
    # The same numbers as the list, for each filter.
    listed = await world.client.get(
        "/referrals/v1/inbox", params={"overdue": "true"}, headers=partner.member
    )
    assert len(listed.json()["items"]) == 1
    # Bad filters are refused as on the list; another structure counts its own inbox.
    bad = await world.client.get(
        "/referrals/v1/inbox/count", params={"thematique": "nope"}, headers=partner.member
    )
    assert bad.status_code == 400
    mine = await world.client.get("/referrals/v1/inbox/count", headers=ccas.member)
    assert mine.json()["count"] == 0
    assert (await world.client.get("/referrals/v1/inbox/count")).status_code == 401
