"""What each side may do on a referral now (``allowed_actions``, the hints the web app's buttons
follow), and the outbox and inbox filters by partner and period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.referrals.domain import lifecycle
from services.referrals.domain.lifecycle import ReferralAction, referral_actions
from services.referrals.domain.transitions import Action, Actor, ActorKind
from tests.referrals.conftest import World, act, create_referral, read

ORIGIN, PARTNER, OTHER = (uuid.uuid4() for _ in range(3))


def user(structure: uuid.UUID) -> Actor:
    return Actor(ActorKind.USER, structure, f"user-of-{structure}")


def test_referral_actions_follow_the_actions_own_checks() -> None:
    referral, plan = lifecycle.create(
        uuid.uuid4(), ORIGIN, PARTNER, uuid.uuid4(), onward_relay_allowed=False
    )
    plan.apply(referral)
    first = referral.handoffs[0].id
    sender = [ReferralAction.CHANGE_REFERENT, ReferralAction.WITHDRAW_CONSENT]
    assert referral_actions(referral, user(ORIGIN)) == sender
    assert referral_actions(referral, user(PARTNER)) == [ReferralAction.WITHDRAW_CONSENT]
    assert referral_actions(referral, user(OTHER)) == []
    # Declined: the origin may re-orient.
    lifecycle.act(referral, first, Action.DECLINE, user(PARTNER), reason="no_capacity").apply(
        referral
    )
    assert ReferralAction.REORIENT in referral_actions(referral, user(ORIGIN))
    assert ReferralAction.REORIENT not in referral_actions(referral, user(PARTNER))
    # Taken over: both the origin and the receiver may close.
    second = uuid.uuid4()
    lifecycle.reorient(referral, user(ORIGIN), second, OTHER).apply(referral)
    for action in (Action.ACCEPT, Action.TAKE_OVER):
        lifecycle.act(referral, second, action, user(OTHER)).apply(referral)
    assert ReferralAction.CLOSE in referral_actions(referral, user(ORIGIN))
    assert ReferralAction.CLOSE in referral_actions(referral, user(OTHER))
    assert ReferralAction.CLOSE not in referral_actions(referral, user(PARTNER))
    lifecycle.withdraw(referral, user(ORIGIN)).apply(referral)
    assert referral_actions(referral, user(ORIGIN)) == []


async def test_allowed_actions_as_each_side_reads_them(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    created = await create_referral(world, ccas, partner)
    rid = created["id"]
    assert created["allowed_actions"] == ["change_referent", "withdraw_consent"]
    assert (await read(world, partner.member, rid))["allowed_actions"] == ["withdraw_consent"]
    handoff = created["handoffs"][0]
    await act(world, partner.member, rid, handoff, "decline", {"reason": "other", "comment": "x"})
    after = await read(world, ccas.member, rid)
    assert after["allowed_actions"] == ["reorient", "change_referent", "withdraw_consent"]


async def test_boxes_filter_by_partner_and_period(world: World) -> None:
    ccas, first, second = await world.org("CCAS"), await world.org("A"), await world.org("B")
    to_first = await create_referral(world, ccas, first)
    to_second = await create_referral(world, ccas, second)
    sent = await world.client.get(
        "/referrals/v1/outbox", params={"partner": str(first.id)}, headers=ccas.member
    )
    assert sent.status_code == 200, sent.text
    assert [i["referral_id"] for i in sent.json()["items"]] == [to_first["id"]]
    received = await world.client.get(
        "/referrals/v1/inbox", params={"partner": str(ccas.id)}, headers=second.member
    )
    assert [i["referral_id"] for i in received.json()["items"]] == [to_second["id"]]
    now = datetime.now(UTC)
    past = await world.client.get(
        "/referrals/v1/outbox",
        params={"until": (now - timedelta(days=1)).isoformat()},
        headers=ccas.member,
    )
    assert past.json()["items"] == []
    window = await world.client.get(
        "/referrals/v1/outbox",
        params={
            "since": (now - timedelta(hours=1)).isoformat(),
            "until": (now + timedelta(hours=1)).isoformat(),
        },
        headers=ccas.member,
    )
    assert {i["referral_id"] for i in window.json()["items"]} == {to_first["id"], to_second["id"]}
    naive = await world.client.get(
        "/referrals/v1/outbox", params={"until": "2026-01-01T00:00:00"}, headers=ccas.member
    )
    assert naive.status_code == 400
    assert "until" in naive.text
