"""The events feed: visibility, order, cursors, no personal data, and commit order under
concurrent transactions on PostgreSQL (an event committed late with an earlier id is not lost)."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from services.referrals import models as m
from tests.referrals.conftest import PERSONAL_VALUES, Org, World, act, create_referral


async def page(
    world: World, headers: dict[str, str], after: str | None = None, **params: Any
) -> dict[str, Any]:
    query: dict[str, Any] = {"limit": 200, **params}
    if after:
        query["after"] = after
    response = await world.client.get("/referrals/v1/events", params=query, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def drain(
    world: World, headers: dict[str, str], after: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    cursor = after
    while True:
        body = await page(world, headers, cursor)
        items += body["items"]
        cursor = body["next_cursor"]
        if not body["items"]:
            return items, cursor


async def test_feed_lists_visible_events_in_order_without_personal_data(world: World) -> None:
    ccas, partner, other = await world.org("CCAS"), await world.org("P"), await world.org("X")
    _, start = await drain(world, partner.member)
    created = await create_referral(world, ccas, partner)
    handoff = created["handoffs"][0]
    await act(
        world,
        partner.member,
        created["id"],
        handoff,
        "decline",
        {"reason": "no_capacity", "comment": "Complet jusqu'en mai"},
    )
    items, end = await drain(world, partner.member, start)
    mine = [i for i in items if i["data"]["referral_id"] == created["id"]]
    assert [i["type"] for i in mine] == ["referral.created", "handoff.sent", "handoff.declined"]
    declined = mine[-1]
    assert declined["data"]["from_state"] == "sent"
    assert declined["data"]["to_state"] == "declined"
    assert declined["data"]["reason"] == "no_capacity"
    text = str(items)
    assert "Complet" not in text
    for value in PERSONAL_VALUES:
        assert value not in text
    # The same events for the origin; none for an unrelated structure.
    origin, _ = await drain(world, ccas.member)
    assert [i["id"] for i in origin if i["data"]["referral_id"] == created["id"]] == [
        i["id"] for i in mine
    ]
    unrelated, _ = await drain(world, other.member)
    assert all(i["data"]["referral_id"] != created["id"] for i in unrelated)
    # Resuming from the last cursor gives nothing new; cursors stay stable.
    again = await page(world, partner.member, end)
    assert again["items"] == []
    assert again["next_cursor"] == end
    # Paging by 1 gives the same sequence.
    one_by_one: list[str] = []
    cursor = start
    for _ in range(10):
        body = await page(world, partner.member, cursor, limit=1)
        if not body["items"]:
            break
        one_by_one += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
    assert one_by_one == [i["id"] for i in items]
    # Filter by type.
    only = await page(world, partner.member, start, types=["handoff.declined"])
    assert {i["type"] for i in only["items"]} == {"handoff.declined"}


async def test_feed_access_and_bad_input(world: World) -> None:
    partner = await world.org("P")
    anonymous = await world.client.get("/referrals/v1/events")
    assert anonymous.status_code == 401
    no_scope = await world.client.get("/referrals/v1/events", headers=partner.client("stats:read"))
    assert no_scope.status_code == 403
    with_scope = await world.client.get(
        "/referrals/v1/events", headers=partner.client("referrals:read")
    )
    assert with_scope.status_code == 200
    bad = await world.client.get(
        "/referrals/v1/events", params={"after": "nope!"}, headers=partner.member
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "cursor"
    unknown = await world.client.get(
        "/referrals/v1/events", params={"types": "x.y"}, headers=partner.member
    )
    assert unknown.status_code == 400
    too_many = await world.client.get(
        "/referrals/v1/events", params={"limit": 500}, headers=partner.member
    )
    assert too_many.status_code == 400


async def _event(session: Any, referral_id: str, org: Org) -> m.TimelineEvent:
    row = m.TimelineEvent(
        id=uuid.uuid4(),
        referral_id=uuid.UUID(referral_id),
        type="referral.referent_changed",
        actor_kind="system",
        actor_subject="system",
        structures=[str(org.id)],
        data={},
    )
    session.add(row)
    await session.flush()
    return row


async def test_event_committed_late_with_an_earlier_position_is_not_skipped(world: World) -> None:
    if world.backend != "postgresql":
        pytest.skip("SQLite serialises writers: positions are already in commit order")
    ccas, partner = await world.org("CCAS"), await world.org("P")
    first = await create_referral(world, ccas, partner)
    _, cursor = await drain(world, partner.member)
    db = world.app().state.db
    async with db.sessionmaker() as slow, slow.begin():
        late = await _event(slow, first["id"], partner)  # position taken, not committed
        second = await create_referral(world, ccas, partner)  # committed meanwhile
        while_open = await page(world, partner.member, cursor)
        # The later events are held back while an older transaction may still commit.
        assert while_open["items"] == []
        assert while_open["next_cursor"] == cursor
        # committed now
    items, _ = await drain(world, partner.member, cursor)
    ids = [i["id"] for i in items]
    assert ids[0] == str(late.id)
    assert [i["type"] for i in items[1:]] == ["referral.created", "handoff.sent"]
    assert all(i["data"]["referral_id"] == second["id"] for i in items[1:])


async def test_concurrent_transactions_never_make_a_poller_miss_an_event(world: World) -> None:
    if world.backend != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    ccas, partner = await world.org("CCAS"), await world.org("P")
    created = await create_referral(world, ccas, partner)
    _, cursor = await drain(world, partner.member)
    db = world.app().state.db
    written: list[uuid.UUID] = []
    rng = random.Random(7)

    async def writer(delay: float) -> None:
        async with db.sessionmaker() as session, session.begin():
            row = await _event(session, created["id"], partner)
            written.append(row.id)
            await asyncio.sleep(delay)  # commit order differs from position order

    seen: list[str] = []
    done = asyncio.Event()

    async def poller() -> None:
        nonlocal cursor
        while True:
            finished = done.is_set()
            body = await page(world, partner.member, cursor)
            seen.extend(i["id"] for i in body["items"])
            cursor = body["next_cursor"]
            if finished and not body["items"]:
                return
            await asyncio.sleep(0.005)

    polling = asyncio.create_task(poller())
    await asyncio.gather(*(writer(rng.uniform(0, 0.3)) for _ in range(30)))
    done.set()
    await polling
    assert len(seen) == len(set(seen)) == 30
    assert set(seen) == {str(i) for i in written}


async def test_a_long_transaction_elsewhere_does_not_hold_the_feed(world: World) -> None:
    if world.backend != "postgresql":
        pytest.skip("transaction ids exist on PostgreSQL only")
    from sqlalchemy.ext.asyncio import create_async_engine

    from tests.conftest import POSTGRES_URL

    ccas, partner = await world.org("CCAS"), await world.org("P")
    _, cursor = await drain(world, partner.member)
    other = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with other.connect() as conn, conn.begin():
            # Another application (e.g. a long directory import) holds an old transaction id.
            await conn.execute(sa.text("SELECT pg_current_xact_id()"))
            created = await create_referral(world, ccas, partner)
            items, _ = await drain(world, partner.member, cursor)
            assert [i["data"]["referral_id"] for i in items] == [created["id"]] * 2
    finally:
        await other.dispose()
