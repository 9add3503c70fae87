"""Concurrent transitions on one handoff: exactly one wins, the others get 409/412."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from litestar._kwargs import kwargs_model
from sqlalchemy import event

from services.referrals import models as m
from services.referrals.domain.records import AccessRecord, Change, EventRecord
from services.referrals.store import ReferralStore, Stale
from tests.referrals.conftest import World, act, create_referral, read


class ConnectionsInUse:
    """Counts pooled connections in use at once (proof that requests really overlap)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine.sync_engine
        self.open = 0
        self.peak = 0

    def _checkout(self, *_: Any) -> None:
        self.open += 1
        self.peak = max(self.peak, self.open)

    def _checkin(self, *_: Any) -> None:
        self.open -= 1

    def __enter__(self) -> ConnectionsInUse:
        event.listen(self.engine, "checkout", self._checkout)
        event.listen(self.engine, "checkin", self._checkin)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "checkout", self._checkout)
        event.remove(self.engine, "checkin", self._checkin)


async def test_fifty_concurrent_answers_one_winner(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid, handoff = created["id"], created["handoffs"][0]
    base = f"/referrals/v1/referrals/{rid}/handoffs/{handoff['id']}"
    rng = random.Random(6)

    async def answer(i: int) -> tuple[str, int]:
        if rng.random() < 0.5:
            return "accept", (
                await world.client.post(
                    f"{base}/accept", headers={**partner.member, "If-Match": '"1"'}
                )
            ).status_code
        response = await world.client.post(
            f"{base}/decline",
            json={"reason": "no_capacity", "comment": f"essai {i}"},
            headers={**partner.member, "If-Match": '"1"'},
        )
        return "decline", response.status_code

    with ConnectionsInUse(world.app().state.db.engine) as connections:
        results = await asyncio.gather(*(answer(i) for i in range(50)))
    statuses = Counter(status for _, status in results)
    assert statuses[200] == 1, statuses
    assert statuses[409] + statuses[412] == 49, statuses
    if world.backend == "postgresql":
        assert connections.peak > 1  # the requests really overlapped

    winner = next(action for action, status in results if status == 200)
    async with world.app().state.db.session() as session:
        row = await session.get(m.Handoff, uuid.UUID(handoff["id"]))
        assert row is not None
        assert row.state == ("accepted" if winner == "accept" else "declined")
        assert row.version == 2
        events = await session.scalar(
            sa.select(sa.func.count())
            .select_from(m.TimelineEvent)
            .where(m.TimelineEvent.handoff_id == row.id, m.TimelineEvent.type != "handoff.sent")
        )
        assert events == 1
        outbox = await session.scalar(
            sa.select(sa.func.count())
            .select_from(m.OutboxEvent)
            .where(
                m.OutboxEvent.aggregate_id == rid,
                m.OutboxEvent.topic.in_(
                    ["referrals.handoff.accepted", "referrals.handoff.declined"]
                ),
            )
        )
        assert outbox == 1


async def test_concurrent_without_stale_version_still_one_winner(world: World) -> None:
    """Clients that all read version 1 and race: the lock makes the losers see the new state."""
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid, handoff = created["id"], created["handoffs"][0]
    url = f"/referrals/v1/referrals/{rid}/handoffs/{handoff['id']}/take-over"
    accept = await world.client.post(
        url.replace("take-over", "accept"), headers={**partner.member, "If-Match": '"1"'}
    )
    assert accept.status_code == 200
    results = await asyncio.gather(
        *(world.client.post(url, headers={**partner.member, "If-Match": "*"}) for _ in range(10))
    )
    statuses = Counter(r.status_code for r in results)
    assert statuses == Counter({200: 1, 409: 9}), statuses


async def test_concurrent_writers_of_different_parts_all_succeed(world: World) -> None:
    """The receiver acknowledges while the sender hands the follow-up around: no request is
    refused. On PostgreSQL every writer but one loses the version compare-and-set at least once
    and plans again on a fresh read (nothing of a lost attempt is written); on SQLite they queue
    on the write lock."""
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid, handoff = created["id"], created["handoffs"][0]
    referents = [f"referent-{i}" for i in range(4)]

    async def change_referent(referent: str) -> int:
        response = await world.client.post(
            f"/referrals/v1/referrals/{rid}/referent",
            json={"referent": referent},
            headers=ccas.member,
        )
        return response.status_code

    async def acknowledge() -> int:
        response = await world.client.post(
            f"/referrals/v1/referrals/{rid}/handoffs/{handoff['id']}/acknowledge",
            headers={**partner.member, "If-Match": '"1"'},
        )
        return response.status_code

    statuses = await asyncio.gather(acknowledge(), *(change_referent(r) for r in referents))
    assert statuses == [200] * 5, statuses

    async with world.app().state.db.session() as session:
        referral = await session.get(m.Referral, uuid.UUID(rid))
        assert referral is not None
        assert referral.version == 1 + 5  # each write bumped it once, lost attempts never
        assert referral.referent_enc is not None  # free text: sealed
        row = await session.get(m.Handoff, uuid.UUID(handoff["id"]))
        assert row is not None
        assert (row.state, row.version) == ("acknowledged", 2)
        types = Counter(
            (
                await session.scalars(
                    sa.select(m.TimelineEvent.type).where(
                        m.TimelineEvent.referral_id == uuid.UUID(rid)
                    )
                )
            ).all()
        )
        outbox = await session.scalar(
            sa.select(sa.func.count())
            .select_from(m.OutboxEvent)
            .where(m.OutboxEvent.aggregate_id == rid)
        )
    assert (await read(world, ccas.member, rid))["referent"] in referents
    assert types["handoff.acknowledged"] == 1
    assert types["referral.referent_changed"] == 4, types
    assert outbox == sum(types.values())  # one outbox message per timeline event


async def test_a_change_planned_on_an_old_version_writes_nothing(world: World) -> None:
    """``store.save``'s compare-and-set, on both engines: a change planned on a snapshot the
    referral has moved on from writes nothing (no handoff update, event, outbox message or
    access-log row) and says so (``Stale``); the same change on the current snapshot is written
    whole, and moves the version once."""
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid, hid = uuid.UUID(created["id"]), uuid.UUID(created["handoffs"][0]["id"])
    db = world.app().state.db
    async with db.session() as session:
        old = await ReferralStore(session).load(rid)
    assert old is not None
    await act(world, ccas.member, created["id"], created["handoffs"][0], "cancel",
              {"reason": "duplicate"})  # fmt: skip

    def change(now: datetime) -> Change:
        return Change(
            now=now,
            status="in_progress",
            handoffs={hid: {"state": "acknowledged", "version": 2}},
            expected={hid: 1},
            events=[
                EventRecord(
                    id=uuid.uuid4(), referral_id=rid, handoff_id=hid, type="test.stale",
                    actor_kind="user", actor_subject="u", actor_structure_id=None,
                    from_state="sent", to_state="acknowledged", reason=None, comment_enc=None,
                    structures=[], data={}, occurred_at=now,
                )
            ],
            messages=[("test.stale", {})],
            access=[
                AccessRecord(
                    id=uuid.uuid4(), referral_id=rid, actor_kind="user", actor_subject="u",
                    structure_id=None, resource="test.stale", categories=[], at=now,
                )
            ],
        )  # fmt: skip

    async def counts() -> tuple[Any, ...]:
        async with db.session() as session:
            referral = await session.get(m.Referral, rid)
            handoff = await session.get(m.Handoff, hid)
            assert referral is not None
            assert handoff is not None
            return (
                referral.version,
                handoff.state,
                await session.scalar(
                    sa.select(sa.func.count()).where(m.TimelineEvent.type == "test.stale")
                ),
                await session.scalar(
                    sa.select(sa.func.count()).where(m.OutboxEvent.topic == "test.stale")
                ),
                await session.scalar(
                    sa.select(sa.func.count()).where(m.AccessLogEntry.resource == "test.stale")
                ),
            )

    with pytest.raises(Stale):
        async with db.session() as session:
            await ReferralStore(session).save(old, change(datetime.now(UTC)))
    assert await counts() == (2, "cancelled", 0, 0, 0)

    async with db.session() as session:
        store = ReferralStore(session)
        current = await store.load(rid, for_update=True)
        assert current is not None
        fresh = change(datetime.now(UTC))
        fresh.expected = {hid: current.handoffs[0].version}
        await store.save(current, fresh)
    assert await counts() == (3, "acknowledged", 1, 1, 1)


async def test_a_handlers_dependencies_resolve_one_after_the_other(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The referrals session waits for the authenticated caller, so Litestar resolves caller,
    authenticated, session and service as a chain: no task group per request (~40 us each)."""
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)  # (the directory's own are not)
    groups: list[object] = []
    real = kwargs_model.create_task_group

    def counted() -> Any:
        groups.append(object())
        return real()

    monkeypatch.setattr(kwargs_model, "create_task_group", counted)
    await act(world, partner.member, created["id"], created["handoffs"][0], "acknowledge")
    url = f"/referrals/v1/referrals/{created['id']}"
    assert (await world.client.get(url, headers=ccas.member)).status_code == 200
    assert groups == []
