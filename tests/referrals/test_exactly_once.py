"""One delivery per message and subscriber, on both engines: the real background worker (every
referrals job, run concurrently as in `relais serve`) sends each webhook message once to a real
local HTTP receiver and each notification once to a real SMTP server (aiosmtpd), also while a
replay runs. A duplicate forced by a database fault carries the same ``webhook-id``."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from services import system
from services.referrals import models as m
from services.referrals.webhooks import delivery
from tests.conftest import BACKENDS, Relais, free_port, start_relais
from tests.referrals.conftest import World, act, create_referral
from tests.referrals.receiver import Receiver
from tests.referrals.test_notifications import Sink, prefer
from tests.tokens import TokenFactory


@dataclass
class Running:
    world: World
    sink: Sink
    receivers: list[Receiver]


@asynccontextmanager
async def running_system(
    backend: str, home: Path, tokens: TokenFactory, **settings: Any
) -> AsyncIterator[Running]:
    """The whole system with its real worker running every referrals job, a real SMTP server and
    two webhook receivers."""
    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    receivers = [Receiver(), Receiver()]
    for receiver in receivers:
        await receiver.start()
    relais: Relais
    relais, stack = await start_relais(
        backend,
        home,
        tokens,
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        webhook_allow_private=True,
        webhook_timeout_seconds=1.0,
        webhook_retry_base_seconds=0.2,
        **settings,
    )
    stop = asyncio.Event()
    try:
        async with stack:
            apps = relais.gateway.apps
            worker = system.make_worker(relais.settings, system.service_jobs(apps, ["referrals"]))
            worker.poll_seconds = 0.05
            task = asyncio.create_task(worker.run(stop))
            try:
                yield Running(World(relais), sink, receivers)
            finally:
                stop.set()
                await task
    finally:
        for receiver in receivers:
            await receiver.stop()
        controller.stop()


async def drained(world: World) -> None:
    """Wait until every event is fanned out, every webhook delivered and every mail sent."""
    db = world.app().state.db
    deadline = asyncio.get_running_loop().time() + 90.0
    while asyncio.get_running_loop().time() < deadline:
        waiting = 0
        async with db.session() as session:
            for query in (
                sa.select(sa.func.count()).where(m.OutboxEvent.processed_at.is_(None)),
                sa.select(sa.func.count()).where(m.WebhookDelivery.status == "pending"),
                sa.select(sa.func.count()).where(m.MailMessage.status == "pending"),
            ):
                waiting += (await session.execute(query)).scalar_one()
        if waiting == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the worker did not drain the queues in time")


async def subscribe(world: World, headers: dict[str, str], receiver: Receiver) -> str:
    response = await world.client.post(
        "/referrals/v1/webhooks", json={"url": receiver.url}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def wave(world: World, sender: Any, partner: Any, count: int) -> None:
    """Referrals sent, acknowledged and accepted: three events each, mailed and delivered."""
    for _ in range(count):
        created = await create_referral(world, sender, partner)
        handoff = created["handoffs"][0]
        handoff = await act(world, partner.member, created["id"], handoff, "acknowledge")
        await act(world, partner.member, created["id"], handoff, "accept")


async def messages_for(world: World, structure_id: uuid.UUID, since: datetime) -> set[str]:
    """The webhook-id of every event the structure may see since ``since`` (from the timeline)."""
    async with world.app().state.db.session() as session:
        events = (
            await session.scalars(
                sa.select(m.TimelineEvent).where(m.TimelineEvent.occurred_at >= since)
            )
        ).all()
    return {f"msg_{e.id.hex}" for e in events if str(structure_id) in e.structures}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_one_delivery_per_message_and_subscriber(
    backend: str, tmp_path: Path, tokens: TokenFactory
) -> None:
    async with running_system(backend, tmp_path, tokens) as run:
        world, sink = run.world, run.sink
        to_sender, to_partner = run.receivers
        sender, partner = await world.org("CCAS"), await world.org("Accueil")
        await subscribe(world, sender.admin, to_sender)
        partner_hook = await subscribe(world, partner.admin, to_partner)
        tag = uuid.uuid4().hex[:6]
        await prefer(world, sender.member, f"referent-{tag}@ccas.example", "immediate")
        await prefer(world, partner.member, f"accueil-{tag}@partner.example", "immediate")

        start = datetime.now(UTC)
        await wave(world, sender, partner, 4)
        await drained(world)
        first_wave = await messages_for(world, partner.id, start)
        middle = datetime.now(UTC)
        # The partner's receiver asks for the first wave again while the second one is sent.
        second = asyncio.create_task(wave(world, sender, partner, 4))
        replayed = await world.client.post(
            f"/referrals/v1/webhooks/{partner_hook}/replay",
            json={"since": start.isoformat(), "until": middle.isoformat()},
            headers=partner.admin,
        )
        assert replayed.status_code == 202, replayed.text
        assert replayed.json()["queued"] == len(first_wave)
        await second
        await drained(world)

        for receiver, structure in ((to_sender, sender.id), (to_partner, partner.id)):
            expected = await messages_for(world, structure, start)
            counts = Counter(item.message_id for item in receiver.received)
            assert set(counts) == expected
            again = first_wave if receiver is to_partner else set()
            assert {i: n for i, n in counts.items() if n != 1} == dict.fromkeys(again, 2)
        assert len(first_wave) >= 4 * 3
        mails = Counter(
            (tuple(rcpt), str(message["Subject"]), message.get_body(("plain",)).get_content())
            for rcpt, message in sink.messages
        )
        assert len(mails) >= 8  # at least the receiving structure, for each referral
        assert [key for key, n in mails.items() if n > 1] == []
        message_ids = Counter(str(message["Message-ID"]) for _, message in sink.messages)
        assert max(message_ids.values()) == 1
        print(
            f"{backend}: {sum(len(r.received) for r in run.receivers)} webhook requests, "
            f"{len(sink.messages)} mails, 0 duplicates"
        )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_duplicate_after_a_database_fault_keeps_its_webhook_id(
    backend: str, tmp_path: Path, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver answered, then recording the answer failed: the message goes again (at least
    once) with the same ``webhook-id`` and body, which is how the receiver recognises it."""
    real_record = delivery.record
    failures = {"left": 1}

    async def record_after_a_fault(*args: Any, **kwargs: Any) -> list[uuid.UUID]:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("database connection lost")
        return await real_record(*args, **kwargs)

    monkeypatch.setattr(delivery, "record", record_after_a_fault)
    async with running_system(backend, tmp_path, tokens) as run:
        world, receiver = run.world, run.receivers[0]
        sender, partner = await world.org("CCAS"), await world.org("Accueil")
        await subscribe(world, sender.admin, receiver)
        await create_referral(world, sender, partner)
        await drained(world)
        assert failures["left"] == 0
        counts = Counter(item.message_id for item in receiver.received)
        # The batch whose record failed went twice; the others once.
        twice = [message_id for message_id, n in counts.items() if n == 2]
        assert len(twice) == 1
        assert set(counts.values()) <= {1, 2}
        first, second = [item for item in receiver.received if item.message_id == twice[0]]
        assert first.body == second.body
