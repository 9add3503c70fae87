"""Webhooks against a real receiver: down for a while, slow, killed mid-delivery, rotated.

Every test runs on SQLite and PostgreSQL, on a system of its own with private addresses allowed
(the receiver listens on 127.0.0.1), a 1 s timeout and fast retries.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from services.kernel.clock import utcnow
from services.referrals import background
from services.referrals import models as m
from services.referrals.webhooks import delivery, guard, signing
from tests.conftest import BACKENDS, start_relais
from tests.referrals.conftest import World, act, create_referral
from tests.referrals.receiver import Receiver, verify
from tests.tokens import TokenFactory

SETTINGS = {
    "webhook_allow_private": True,
    "webhook_timeout_seconds": 1.0,
    "webhook_retry_base_seconds": 0.05,
    "webhook_disable_after_failures": 3,
}


@pytest.fixture(scope="module", params=BACKENDS)
async def hooks(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[World]:
    home = tmp_path_factory.mktemp(f"webhooks-{request.param}")
    system, stack = await start_relais(request.param, home, tokens, **SETTINGS)
    async with stack:
        yield World(system)


async def subscribe(
    world: World, headers: dict[str, str], url: str, **extra: Any
) -> dict[str, Any]:
    response = await world.client.post(
        "/referrals/v1/webhooks", json={"url": url, **extra}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["secret"].startswith("whsec_")
    return body


async def deliver_until(world: World, done: Any, rounds: int = 200) -> None:
    """Run the worker's webhook job until ``done()`` holds (bounded; no timing assertion)."""
    for _ in range(rounds):
        await background.deliver_webhooks(world.app())
        if done():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("deliveries did not complete")


async def feed_for(world: World, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 200, **({"after": cursor} if cursor else {})}
        response = await world.client.get("/referrals/v1/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if not page["items"]:
            return items
        cursor = page["next_cursor"]


async def lifecycle(world: World, ccas: Any, partner: Any) -> str:
    created = await create_referral(world, ccas, partner)
    handoff = created["handoffs"][0]
    handoff = await act(world, partner.member, created["id"], handoff, "acknowledge")
    handoff = await act(world, partner.member, created["id"], handoff, "accept")
    await act(world, partner.member, created["id"], handoff, "take-over")
    return str(created["id"])


async def test_receiver_down_then_up_everything_arrives_once_in_order(hooks: World) -> None:
    ccas, partner = await hooks.org("CCAS"), await hooks.org("Partenaire")
    receiver = Receiver()  # not started: connections are refused
    sub = await subscribe(hooks, partner.admin, receiver.url)
    referrals = [await lifecycle(hooks, ccas, partner) for _ in range(3)]

    for _ in range(3):  # a few failing rounds: retried with backoff, nothing given up
        await background.deliver_webhooks(hooks.app())
        await asyncio.sleep(0.1)
    log = await hooks.client.get(
        f"/referrals/v1/webhooks/{sub['id']}/deliveries", headers=partner.admin
    )
    assert log.status_code == 200, log.text
    pending = log.json()["items"]
    assert pending
    assert all(d["status"] == "pending" for d in pending)
    assert any(d["attempts"] >= 2 for d in pending)
    assert all(a["error"] for d in pending for a in d["log"])

    expected = [
        e for e in await feed_for(hooks, partner.member) if e["data"]["referral_id"] in referrals
    ]
    assert len(expected) == 3 * 5  # created, sent, acknowledged, accepted, taken_over
    await receiver.start()
    try:
        await deliver_until(hooks, lambda: len(receiver.unique()) >= len(expected))
    finally:
        await receiver.stop()

    unique = receiver.unique()
    assert set(unique) == {f"msg_{uuid.UUID(e['id']).hex}" for e in expected}
    for item in receiver.received:
        assert verify(sub["secret"], item.headers, item.body)
        assert item.json["data"]["referral_id"] in referrals
        assert "person" not in item.body.decode()
        assert "Aïcha" not in item.body.decode()
    # In order per referral: arrivals follow the timeline.
    for referral_id in referrals:
        arrived = [
            r.json["id"] for r in unique.values() if r.json["data"]["referral_id"] == referral_id
        ]
        in_feed = [e["id"] for e in expected if e["data"]["referral_id"] == referral_id]
        assert arrived == in_feed


async def test_worker_killed_mid_delivery_loses_nothing(hooks: World) -> None:
    ccas, partner = await hooks.org("CCAS"), await hooks.org("Partenaire")
    receiver = Receiver(delay=0.5)
    await receiver.start()
    try:
        sub = await subscribe(hooks, partner.admin, receiver.url)
        referrals = [await lifecycle(hooks, ccas, partner) for _ in range(4)]
        await background.dispatch_outbox(hooks.app())
        worker = asyncio.create_task(background.deliver_webhooks(hooks.app()))
        await asyncio.wait_for(receiver.got_request.wait(), timeout=30)
        worker.cancel()  # killed while requests are in flight
        with pytest.raises(asyncio.CancelledError):
            await worker
        async with hooks.app().state.db.session() as session:
            in_flight = (
                await session.scalars(
                    sa.select(m.WebhookDelivery).where(
                        m.WebhookDelivery.subscription_id == uuid.UUID(sub["id"]),
                        m.WebhookDelivery.status == "pending",
                        m.WebhookDelivery.attempts == 1,
                    )
                )
            ).all()
        assert in_flight  # claimed (leased) but never recorded: they will go again
        receiver.delay = 0.0
        total = 4 * 5
        await deliver_until(hooks, lambda: len(receiver.unique()) >= total, rounds=400)
        async with hooks.app().state.db.session() as session:
            states = (
                await session.scalars(
                    sa.select(m.WebhookDelivery.status).where(
                        m.WebhookDelivery.subscription_id == uuid.UUID(sub["id"])
                    )
                )
            ).all()
        assert len(states) == total
        assert set(states) == {"delivered"}
    finally:
        await receiver.stop()
    unique = receiver.unique()
    assert len(unique) == total
    assert len(receiver.received) >= total  # at least once; duplicates share their webhook-id
    assert {r.json["data"]["referral_id"] for r in unique.values()} == set(referrals)
    assert all(verify(sub["secret"], r.headers, r.body) for r in receiver.received)


async def test_secret_rotation_signs_with_both_during_overlap(hooks: World) -> None:
    ccas, partner = await hooks.org("CCAS"), await hooks.org("Partenaire")
    receiver = Receiver()
    await receiver.start()
    try:
        sub = await subscribe(hooks, partner.admin, receiver.url, event_types=["handoff.sent"])
        rotated = await hooks.client.post(
            f"/referrals/v1/webhooks/{sub['id']}/rotate-secret",
            json={"overlap_hours": 1},
            headers=partner.admin,
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != sub["secret"]
        assert rotated.json()["previous_secret_until"] is not None
        await create_referral(hooks, ccas, partner)
        await deliver_until(hooks, lambda: len(receiver.unique()) >= 1)
        item = receiver.received[0]
        assert item.json["type"] == "handoff.sent"
        assert len(item.headers["webhook-signature"].split(" ")) == 2
        assert verify(new_secret, item.headers, item.body)
        assert verify(sub["secret"], item.headers, item.body)
        # Without overlap, only the new secret signs.
        again = await hooks.client.post(
            f"/referrals/v1/webhooks/{sub['id']}/rotate-secret",
            json={"overlap_hours": 0},
            headers=partner.admin,
        )
        newest = again.json()["secret"]
        await create_referral(hooks, ccas, partner)
        await deliver_until(hooks, lambda: len(receiver.unique()) >= 2)
        last = receiver.received[-1]
        assert verify(newest, last.headers, last.body)
        assert not verify(new_secret, last.headers, last.body)
        # The secret is never shown again.
        shown = await hooks.client.get(f"/referrals/v1/webhooks/{sub['id']}", headers=partner.admin)
        assert "secret" not in shown.json()
    finally:
        await receiver.stop()


async def test_replay_one_event_and_a_range(hooks: World) -> None:
    ccas, partner = await hooks.org("CCAS"), await hooks.org("Partenaire")
    receiver = Receiver()
    await receiver.start()
    try:
        before = utcnow() - timedelta(seconds=1)
        sub = await subscribe(hooks, partner.admin, receiver.url)
        rid = await lifecycle(hooks, ccas, partner)
        await deliver_until(hooks, lambda: len(receiver.unique()) >= 5)
        first = receiver.received[0]
        one = await hooks.client.post(
            f"/referrals/v1/webhooks/{sub['id']}/replay",
            json={"event_id": first.json["id"]},
            headers=partner.admin,
        )
        assert one.status_code == 202, one.text
        assert one.json() == {"queued": 1}
        await deliver_until(hooks, lambda: len(receiver.received) >= 6)
        assert receiver.received[5].message_id == first.message_id
        span = await hooks.client.post(
            f"/referrals/v1/webhooks/{sub['id']}/replay",
            json={"since": before.isoformat(), "until": utcnow().isoformat()},
            headers=partner.admin,
        )
        assert span.status_code == 202, span.text
        assert span.json()["queued"] == 5
        await deliver_until(hooks, lambda: len(receiver.received) >= 11)
        replayed = [r.json["id"] for r in receiver.received[6:11]]
        assert replayed == [r.json["id"] for r in receiver.received[:5]]  # same order
        assert all(r.json["data"]["referral_id"] == rid for r in receiver.received)
        unknown = await hooks.client.post(
            f"/referrals/v1/webhooks/{sub['id']}/replay",
            json={"event_id": str(uuid.uuid4())},
            headers=partner.admin,
        )
        assert unknown.status_code == 404
        bad = await hooks.client.post(
            f"/referrals/v1/webhooks/{sub['id']}/replay", json={}, headers=partner.admin
        )
        assert bad.status_code == 422
        naive = await hooks.client.post(
            f"/referrals/v1/webhooks/{sub['id']}/replay",
            json={"since": "2026-01-01T00:00:00"},
            headers=partner.admin,
        )
        assert naive.status_code == 422
    finally:
        await receiver.stop()


async def test_redirects_are_not_followed_and_failures_disable_with_notice(hooks: World) -> None:
    ccas, partner = await hooks.org("CCAS"), await hooks.org("Partenaire")
    target = Receiver()
    await target.start()
    redirector = Receiver(status=307, extra_headers={"Location": target.url})
    await redirector.start()
    try:
        sub = await subscribe(hooks, partner.admin, redirector.url, event_types=["handoff.sent"])
        await create_referral(hooks, ccas, partner)
        for _ in range(3):
            await background.deliver_webhooks(hooks.app())
            await asyncio.sleep(0.1)
        assert redirector.requests >= 2
        assert target.requests == 0  # the redirect was not followed
        log = await hooks.client.get(
            f"/referrals/v1/webhooks/{sub['id']}/deliveries", headers=partner.admin
        )
        attempt = log.json()["items"][0]["log"][0]
        assert attempt["status_code"] == 307
        assert "redirection" in attempt["error"]
        # Failing for longer than the retry window: the subscription is disabled, admins told.
        async with hooks.app().state.db.session() as session:
            await session.execute(
                sa.update(m.WebhookSubscription)
                .where(m.WebhookSubscription.id == uuid.UUID(sub["id"]))
                .values(first_failure_at=utcnow() - timedelta(days=4))
            )
            await session.execute(
                sa.update(m.WebhookDelivery)
                .where(m.WebhookDelivery.subscription_id == uuid.UUID(sub["id"]))
                .values(next_attempt_at=utcnow())
            )
        await background.deliver_webhooks(hooks.app())
        shown = await hooks.client.get(f"/referrals/v1/webhooks/{sub['id']}", headers=partner.admin)
        assert shown.json()["status"] == "disabled"
        assert "échecs" in shown.json()["disabled_reason"]
        async with hooks.app().state.db.session() as session:
            notices = (
                await session.scalars(
                    sa.select(m.MailMessage).where(
                        m.MailMessage.kind == "webhook_disabled",
                        m.MailMessage.to_address == f"structure:{partner.id}",
                    )
                )
            ).all()
        assert len(notices) == 1
        assert "désactivé" in notices[0].text_body
        # Re-enabled: the message still pending goes out.
        redirector.status = 200
        enabled = await hooks.client.patch(
            f"/referrals/v1/webhooks/{sub['id']}", json={"status": "active"}, headers=partner.admin
        )
        assert enabled.status_code == 200
        assert enabled.json()["status"] == "active"
        await deliver_until(hooks, lambda: len(redirector.unique()) >= 1)
    finally:
        await redirector.stop()
        await target.stop()


async def test_only_events_the_structure_may_see(hooks: World) -> None:
    ccas, partner, other = [await hooks.org(n) for n in ("CCAS", "Partenaire", "Tiers")]
    receiver = Receiver()
    await receiver.start()
    try:
        await subscribe(hooks, other.admin, receiver.url)
        await lifecycle(hooks, ccas, partner)
        await background.deliver_webhooks(hooks.app())
        assert receiver.requests == 0
    finally:
        await receiver.stop()


async def test_pending_payloads_erased_on_withdrawal(hooks: World) -> None:
    ccas, partner = await hooks.org("CCAS"), await hooks.org("Partenaire")
    sub = await subscribe(hooks, partner.admin, "http://127.0.0.1:9/never")
    created = await create_referral(hooks, ccas, partner)
    await background.dispatch_outbox(hooks.app())
    async with hooks.app().state.db.session() as session:
        rows = (
            await session.scalars(
                sa.select(m.WebhookDelivery).where(
                    m.WebhookDelivery.subscription_id == uuid.UUID(sub["id"])
                )
            )
        ).all()
        for row in rows:  # simulate a payload that carried details
            row.payload = {**row.payload, "data": {**row.payload["data"], "details": {"x": "y"}}}
    withdrawn = await hooks.client.post(
        f"/referrals/v1/referrals/{created['id']}/consent/withdraw", json={}, headers=ccas.member
    )
    assert withdrawn.status_code == 200, withdrawn.text
    async with hooks.app().state.db.session() as session:
        rows = (
            await session.scalars(
                sa.select(m.WebhookDelivery).where(
                    m.WebhookDelivery.subscription_id == uuid.UUID(sub["id"]),
                    m.WebhookDelivery.status == "pending",
                )
            )
        ).all()
    assert rows
    assert all(r.payload["data"]["details"] == {} for r in rows)


async def test_subscription_rules(hooks: World) -> None:
    partner = await hooks.org("Partenaire")
    url = "https://hooks.example.org/relais"
    member = await hooks.client.post(
        "/referrals/v1/webhooks", json={"url": url}, headers=partner.member
    )
    assert member.status_code == 403
    no_scope = await hooks.client.post(
        "/referrals/v1/webhooks", json={"url": url}, headers=partner.client("referrals:read")
    )
    assert no_scope.status_code == 403
    ok = await hooks.client.post(
        "/referrals/v1/webhooks", json={"url": url}, headers=partner.client("webhooks:manage")
    )
    assert ok.status_code == 201, ok.text
    for bad in ("ftp://x.example.org/", "https://user:pw@x.example.org/", "not a url"):
        response = await hooks.client.post(
            "/referrals/v1/webhooks", json={"url": bad}, headers=partner.admin
        )
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["errors"][0]["field"] == "url"
    types = await hooks.client.post(
        "/referrals/v1/webhooks",
        json={"url": url, "event_types": ["handoff.nope"]},
        headers=partner.admin,
    )
    assert types.status_code == 422
    other = await hooks.org("Autre")
    hidden = await hooks.client.get(
        f"/referrals/v1/webhooks/{ok.json()['id']}", headers=other.admin
    )
    assert hidden.status_code == 404


def test_ssrf_guard_refuses_private_addresses() -> None:
    from services.kernel.settings import load_settings

    strict = load_settings(environ={})
    for url in (
        "http://127.0.0.1/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://192.168.1.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
    ):
        with pytest.raises(guard.UnsafeURL):
            guard.check_url(url, strict)
    guard.check_url("https://93.184.215.14/x", strict)
    guard.check_url("http://hooks.example.org/x", strict)  # http is fine in development
    production = msgspec.structs.replace(strict, environment="production")
    with pytest.raises(guard.UnsafeURL):
        guard.check_url("http://hooks.example.org/x", production)
    guard.check_url("https://hooks.example.org/x", production)
    allowed = load_settings(environ={}, webhook_allow_private=True)
    guard.check_url("http://127.0.0.1:8080/x", allowed)


async def test_ssrf_guard_checks_resolved_addresses() -> None:
    from services.kernel.settings import load_settings

    strict = load_settings(environ={})
    with pytest.raises(guard.UnsafeURL):
        await guard.resolve("http://localhost.:8080/x", strict)
    allowed = load_settings(environ={}, webhook_allow_private=True)
    target = await guard.resolve("http://localhost:8080/x?a=1", allowed)
    assert target.host_header == "localhost:8080"
    assert target.url.endswith(":8080/x?a=1")


def test_signature_matches_the_specification_example() -> None:
    # Example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    timestamp = 1614265330
    body = b'{"test": 2432232314}'
    assert (
        signing.sign(secret, msg_id, timestamp, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_backoff_grows_with_jitter() -> None:
    from services.kernel.settings import load_settings

    settings = load_settings(environ={}, webhook_retry_base_seconds=10.0)
    first = [delivery.backoff(settings, 1) for _ in range(50)]
    fifth = [delivery.backoff(settings, 5) for _ in range(50)]
    assert all(7.5 <= d <= 12.5 for d in first)
    assert all(120 <= d <= 200 for d in fifth)
    assert len(set(first)) > 1
    assert delivery.backoff(settings, 40) <= delivery.MAX_BACKOFF_SECONDS * 1.25


def test_oversized_payload_is_cut_down_to_ids_and_states() -> None:
    from services.kernel.settings import load_settings

    settings = load_settings(environ={}, webhook_max_payload_bytes=400)
    referral_id, handoff_id = uuid.uuid4(), uuid.uuid4()
    payload = {
        "id": str(uuid.uuid4()),
        "type": "handoff.accepted",
        "timestamp": utcnow().isoformat(),
        "data": {
            "referral_id": str(referral_id),
            "handoff_id": str(handoff_id),
            "from_state": "acknowledged",
            "to_state": "accepted",
            "actor_kind": "user",
            "structures": [str(uuid.uuid4()) for _ in range(10)],
            "details": {"respond_by": "2026-12-01"},
        },
    }
    body = delivery.encode_body(payload, settings)
    assert len(body) <= 400
    decoded = msgspec.json.decode(body)
    assert decoded["data"]["referral_id"] == str(referral_id)
    assert decoded["data"]["to_state"] == "accepted"
    assert decoded["data"]["structures"] == []
    small = delivery.encode_body(payload, load_settings(environ={}))
    assert len(msgspec.json.decode(small)["data"]["structures"]) == 10


async def test_test_delivery_sends_a_signed_ping_and_reports_the_answer(hooks: World) -> None:
    partner, other = await hooks.org("Partenaire"), await hooks.org("Autre")
    receiver = Receiver()
    await receiver.start()
    try:
        sub = await subscribe(hooks, partner.admin, receiver.url)
        url = f"/referrals/v1/webhooks/{sub['id']}/test"
        sent = await hooks.client.post(url, headers=partner.admin)
        assert sent.status_code == 200, sent.text
        outcome = sent.json()
        assert outcome["delivered"] is True
        assert outcome["status_code"] == 200
        assert outcome["error"] is None
        ping = receiver.received[-1]
        assert ping.message_id == outcome["message_id"]
        assert verify(sub["secret"], ping.headers, ping.body)
        assert ping.json["type"] == "ping"
        assert ping.json["data"] == {"webhook_id": sub["id"], "structure_id": sub["structure_id"]}
        # An endpoint answering an error is reported, not retried, and disables nothing.
        receiver.status = 500
        failed = (await hooks.client.post(url, headers=partner.admin)).json()
        assert failed["delivered"] is False
        assert failed["status_code"] == 500
        assert failed["error"] == "réponse HTTP 500"
        shown = await hooks.client.get(f"/referrals/v1/webhooks/{sub['id']}", headers=partner.admin)
        assert shown.json()["consecutive_failures"] == 0
        assert shown.json()["status"] == "active"
        log = await hooks.client.get(
            f"/referrals/v1/webhooks/{sub['id']}/deliveries", headers=partner.admin
        )
        assert log.json()["items"] == []
        # Only the structure's own administrators test its webhooks.
        refused = await hooks.client.post(url, headers=other.admin)
        assert refused.status_code == 404
    finally:
        await receiver.stop()
    # Nobody listening: the network error is said.
    down = (await hooks.client.post(url, headers=partner.admin)).json()
    assert down["delivered"] is False
    assert down["status_code"] is None
    assert down["error"].startswith("erreur réseau")
