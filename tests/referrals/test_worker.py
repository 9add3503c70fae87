"""Deadlines: reminders before the respond-by date, expiry after it, alerts to the referent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.kernel.outbox import outbox_row
from services.referrals import models as m
from services.referrals import worker
from tests.referrals.conftest import World, act, create_referral, read, referral_body


async def _set_deadline(world: World, handoff_id: str, when: datetime) -> None:
    async with world.app().state.db.session() as session:
        await session.execute(
            sa.update(m.Handoff)
            .where(m.Handoff.id == uuid.UUID(handoff_id))
            .values(respond_by=when)
        )


async def _topics(world: World, referral_id: str) -> list[str]:
    async with world.app().state.db.session() as session:
        rows = await session.scalars(
            sa.select(m.OutboxEvent.topic).where(m.OutboxEvent.aggregate_id == referral_id)
        )
        return list(rows.all())


async def test_jobs_are_declared() -> None:
    names = {job.name for job in worker.JOBS}
    assert {"referrals.remind-handoffs", "referrals.expire-handoffs"} <= names
    assert all(job.queue == "referrals" for job in worker.JOBS)


async def test_default_and_service_deadlines(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    respond_by = datetime.fromisoformat(created["handoffs"][0]["respond_by"])
    delay = respond_by - datetime.fromisoformat(created["created_at"])
    assert abs(delay - timedelta(days=8)) < timedelta(seconds=5)
    service = await world.service(partner, days=2)
    quick = await create_referral(
        world, ccas, partner, target={"structure_id": str(partner.id), "service_id": str(service)}
    )
    delay = datetime.fromisoformat(quick["handoffs"][0]["respond_by"]) - datetime.fromisoformat(
        quick["created_at"]
    )
    assert abs(delay - timedelta(days=2)) < timedelta(seconds=5)


async def test_reminder_then_expiry_alerts_the_referent(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid, h = created["id"], created["handoffs"][0]
    now = datetime.now(UTC)
    await _set_deadline(world, h["id"], now + timedelta(days=1))

    assert await worker.remind_handoffs(world.app()) >= 1
    await worker.remind_handoffs(world.app())  # once only
    assert (await _topics(world, rid)).count("referrals.handoff.reminder") == 1
    view = await read(world, partner.member, rid)
    assert view["handoffs"][0]["reminded_at"] is not None

    await _set_deadline(world, h["id"], now - timedelta(minutes=1))
    inbox = await world.client.get(
        "/referrals/v1/inbox", params={"overdue": "true"}, headers=partner.member
    )
    assert [i["referral_id"] for i in inbox.json()["items"]] == [rid]
    assert await worker.expire_handoffs(world.app()) >= 1
    view = await read(world, ccas.member, rid)
    assert view["handoffs"][0]["state"] == "expired"
    topics = await _topics(world, rid)
    assert "referrals.handoff.expired" in topics
    assert "referrals.alert.referent" in topics
    timeline = await world.client.get(
        f"/referrals/v1/referrals/{rid}/timeline", headers=ccas.member
    )
    last = timeline.json()["items"][-1]
    assert last["type"] == "handoff.expired"
    assert last["actor_kind"] == "system"
    # After expiry the sender re-orients.
    other = await world.org()
    again = await world.client.post(
        f"/referrals/v1/referrals/{rid}/handoffs",
        json={"target": {"structure_id": str(other.id)}},
        headers=ccas.member,
    )
    assert again.status_code == 201


async def test_answered_handoffs_do_not_expire(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid, h = created["id"], created["handoffs"][0]
    h = await act(world, partner.member, rid, h, "accept")
    await _set_deadline(world, h["id"], datetime.now(UTC) - timedelta(days=1))
    await worker.expire_handoffs(world.app())
    assert (await read(world, ccas.member, rid))["handoffs"][0]["state"] == "accepted"


async def test_idempotency_keys_are_forgotten_after_a_day(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    key = f"old-{uuid.uuid4()}"
    headers = {**ccas.member, "Idempotency-Key": key}
    body = referral_body(partner)
    first = await world.client.post("/referrals/v1/referrals", json=body, headers=headers)
    assert first.status_code == 201
    async with world.app().state.db.session() as session:
        await session.execute(
            sa.update(m.IdempotencyRecord)
            .where(m.IdempotencyRecord.key == key)
            .values(created_at=datetime.now(UTC) - timedelta(hours=25))
        )
    assert await worker.forget_idempotency_keys(world.app()) >= 1
    again = await world.client.post("/referrals/v1/referrals", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]  # a new request after the retention


async def test_outbox_keeps_pending_and_recent_events_and_prunes_old_processed_ones(
    world: World,
) -> None:
    ccas, partner = await world.org(), await world.org()
    rid = (await create_referral(world, ccas, partner))["id"]
    now = datetime.now(UTC)
    ages = {"old-processed": 8, "recent-processed": 6, "old-pending": 30}
    async with world.app().state.db.session() as session:
        for topic, days in ages.items():
            row = outbox_row(f"test.{topic}", rid, {})
            row["created_at"] = row["available_at"] = now - timedelta(days=days)
            row["processed_at"] = None if topic.endswith("pending") else now - timedelta(days=days)
            session.add(m.OutboxEvent(**row))
    job = next(job for job in worker.JOBS if job.name == "referrals.prune-outbox")
    assert await job.run(world.app()) >= 1
    topics = await _topics(world, rid)
    assert "test.old-processed" not in topics
    assert {"test.recent-processed", "test.old-pending", "referrals.handoff.sent"} <= set(topics)
