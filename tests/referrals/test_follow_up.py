"""The person's follow-up by code: what the page data says at each stage, one 404 for unknown,
revoked and expired codes, the rate limits, renewal by staff, withdrawal, feedback into the
statistics."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from services.kernel.clock import utcnow
from services.referrals import models as m
from services.referrals.service import jobs
from tests.referrals.conftest import (
    PERSONAL_VALUES,
    Org,
    World,
    act,
    close_both_parts,
    create_referral,
    read,
)

BASE = "/referrals/v1/follow-up"


def address() -> dict[str, str]:
    """A fresh client address per test (the limits count per address; the test client's peer is
    a trusted proxy, so the forwarded address is the one counted)."""
    return {"X-Forwarded-For": f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"}


async def follow(world: World, code: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await world.client.get(f"{BASE}/{code}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


async def _close(world: World, sender: Org, receiver: Org, created: dict[str, Any]) -> None:
    handoff = created["handoffs"][0]
    for action in ("acknowledge", "accept", "take-over"):
        handoff = await act(world, receiver.member, created["id"], handoff, action)
    await close_both_parts(
        world,
        created["id"],
        sender.member,
        receiver.member,
        {"outcome": "solution_found", "evaluation_comment": "Mme Aïcha contente"},
    )


async def test_the_code_is_given_once_and_stored_as_a_hash(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    created = await create_referral(world, ccas, partner)
    code = created["follow_up_code"]
    assert isinstance(code, str)
    assert len(code) >= 22
    assert (await read(world, ccas.member, created["id"]))["follow_up_code"] is None
    async with world.app().state.db.session() as session:
        rows = (
            await session.scalars(
                sa.select(m.FollowUpCode).where(
                    m.FollowUpCode.referral_id == uuid.UUID(created["id"])
                )
            )
        ).all()
    assert [r.code_hash for r in rows] == [hashlib.sha256(code.encode()).hexdigest()]
    assert code not in str([(r.code_hash, r.created_by) for r in rows])


async def test_each_stage_shows_only_what_the_person_may_know(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    created = await create_referral(world, ccas, partner)
    code, rid, ip = created["follow_up_code"], created["id"], address()

    waiting = await follow(world, code, ip)
    assert waiting["stage"] == "waiting"
    assert waiting["holder"]["name"].startswith("Partenaire")
    assert waiting["referent_structure"]["name"].startswith("CCAS")
    assert waiting["respond_by"] == created["handoffs"][0]["respond_by"]
    assert waiting["taken_over"] is False
    assert waiting["can_withdraw"] is True
    assert waiting["can_give_feedback"] is False
    assert waiting["valid_until"] is None

    handoff = await act(world, partner.member, rid, created["handoffs"][0], "acknowledge")
    assert (await follow(world, code, ip))["stage"] == "waiting"
    handoff = await act(world, partner.member, rid, handoff, "accept", {"comment": "Vu M. Durand"})
    accepted = await follow(world, code, ip)
    assert accepted["stage"] == "accepted"
    assert accepted["respond_by"] is None
    handoff = await act(world, partner.member, rid, handoff, "take-over")
    taken = await follow(world, code, ip)
    assert taken["stage"] == "taken_over"
    assert taken["taken_over"] is True
    closed = await world.client.post(
        f"/referrals/v1/referrals/{rid}/close",
        json={"outcome": "partial", "evaluation_comment": "Vu par Mme Martin"},
        headers=ccas.member,
    )
    assert closed.status_code == 200
    ended = await world.client.get(f"{BASE}/{code}", headers=ip)
    body = ended.json()
    assert body["stage"] == "closed"
    assert body["can_give_feedback"] is True
    assert body["valid_until"] is not None
    assert body["holder"]["name"].startswith("Partenaire")
    for value in (
        *PERSONAL_VALUES,
        "Durand",
        "Martin",
        ccas.member_subject,
        partner.member_subject,
    ):
        assert value not in ended.text

    # Every view is in the access log, as the person themself.
    log = await world.client.get(f"/referrals/v1/referrals/{rid}/access-log", headers=ccas.admin)
    mine = [e for e in log.json()["items"] if e["resource"] == "follow_up"]
    assert len(mine) == 5
    assert {(e["actor_kind"], e["actor_subject"], e["structure_id"]) for e in mine} == {
        ("person", "la personne elle-même", None)
    }


async def test_searching_after_a_decline(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    created = await create_referral(world, ccas, partner)
    await act(
        world, partner.member, created["id"], created["handoffs"][0], "decline",
        {"reason": "out_of_scope", "comment": "Aïcha hors secteur"},
    )  # fmt: skip
    response = await world.client.get(f"{BASE}/{created['follow_up_code']}", headers=address())
    body = response.json()
    assert body["stage"] == "searching"
    assert body["holder"] is None
    assert body["referent_structure"]["name"].startswith("CCAS")
    assert "out_of_scope" not in response.text
    assert "Aïcha" not in response.text


async def test_unknown_revoked_and_expired_codes_are_the_same_404(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    ip = address()
    first = await create_referral(world, ccas, partner)
    old_code = first["follow_up_code"]
    renewed = await world.client.post(
        f"/referrals/v1/referrals/{first['id']}/follow-up-code", headers=ccas.member
    )
    assert renewed.status_code == 201, renewed.text
    new_code = renewed.json()["code"]
    assert new_code != old_code
    assert renewed.json()["referral_id"] == first["id"]
    assert (await follow(world, new_code, ip))["stage"] == "waiting"

    second = await create_referral(world, ccas, partner)
    await _close(world, ccas, partner, second)
    assert (await follow(world, second["follow_up_code"], ip))["stage"] == "closed"
    async with world.app().state.db.session() as session:
        ref = await session.get(m.Referral, uuid.UUID(second["id"]))
        assert ref is not None
        assert ref.closed_at is not None
        ref.closed_at = ref.closed_at - timedelta(days=32)

    answers = [
        await world.client.get(f"{BASE}/{code}", headers=ip)
        for code in (old_code, second["follow_up_code"], secrets.token_urlsafe(16), "x")
    ]
    assert {a.status_code for a in answers} == {404}
    bodies = {(a.json()["detail"], a.json()["title"], a.json()["type"]) for a in answers}
    assert len(bodies) == 1
    for path in ("withdraw", "feedback"):
        answer = await world.client.post(
            f"{BASE}/{old_code}/{path}", json={"answer": "oui"}, headers=ip
        )
        assert answer.status_code == 404


async def test_only_the_sending_structure_renews_a_code(world: World) -> None:
    ccas, partner, stranger = [await world.org(n) for n in ("CCAS", "Partenaire", "Autre")]
    created = await create_referral(world, ccas, partner)
    path = f"/referrals/v1/referrals/{created['id']}/follow-up-code"
    assert (await world.client.post(path)).status_code == 401
    assert (await world.client.post(path, headers=partner.member)).status_code == 403
    assert (await world.client.post(path, headers=stranger.member)).status_code == 404
    # A retried request (same Idempotency-Key) gets the same code, not a third one.
    key = {**ccas.member, "Idempotency-Key": f"renew-{uuid.uuid4()}"}
    first = await world.client.post(path, headers=key)
    again = await world.client.post(path, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["code"] == again.json()["code"]
    assert (await follow(world, first.json()["code"], address()))["stage"] == "waiting"
    # Once consent is withdrawn there is nothing left to follow: no new code.
    withdrawn = await world.client.post(
        f"/referrals/v1/referrals/{created['id']}/consent/withdraw", headers=ccas.member
    )
    assert withdrawn.status_code == 200
    assert (await world.client.post(path, headers=ccas.member)).status_code == 409


async def test_brute_force_is_refused(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    created = await create_referral(world, ccas, partner)
    ip = address()
    limit = world.app().state.settings.referrals_follow_up_ip_misses
    for _ in range(limit):
        miss = await world.client.get(f"{BASE}/{secrets.token_urlsafe(16)}", headers=ip)
        assert miss.status_code == 404
    # Locked: even the right code gets no answer from this address now.
    refused = await world.client.get(f"{BASE}/{created['follow_up_code']}", headers=ip)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    guess = await world.client.get(f"{BASE}/{secrets.token_urlsafe(16)}", headers=ip)
    assert guess.status_code == 429
    # Another address is not held back.
    assert (await follow(world, created["follow_up_code"], address()))["stage"] == "waiting"


async def test_one_code_is_limited_whatever_the_address(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    code = (await create_referral(world, ccas, partner))["follow_up_code"]
    limit = world.app().state.settings.referrals_follow_up_code_limit
    for _ in range(limit):
        await follow(world, code, address())
    assert (await world.client.get(f"{BASE}/{code}", headers=address())).status_code == 429


async def test_the_person_withdraws_their_consent(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    created = await create_referral(world, ccas, partner)
    rid, code, ip = created["id"], created["follow_up_code"], address()
    withdrawn = await world.client.post(f"{BASE}/{code}/withdraw", headers=ip)
    assert withdrawn.status_code == 200, withdrawn.text
    body = withdrawn.json()
    assert body["stage"] == "withdrawn"
    assert body["can_withdraw"] is False
    assert body["holder"] is None
    for value in PERSONAL_VALUES:
        assert value not in withdrawn.text

    # The same withdrawal as staff record: erased, handoff cancelled, on the timeline.
    view = await read(world, ccas.member, rid)
    assert view["status"] == "withdrawn"
    assert view["personal_data"] == "erased"
    assert view["person"] is None
    assert view["handoffs"][0]["state"] == "cancelled"
    timeline = await world.client.get(
        f"/referrals/v1/referrals/{rid}/timeline", headers=ccas.member
    )
    last = timeline.json()["items"][-1]
    assert last["type"] == "consent.withdrawn"
    assert (last["actor_kind"], last["actor_subject"]) == ("person", "la personne elle-même")
    async with world.app().state.db.session() as session:
        topics = (
            await session.scalars(
                sa.select(m.OutboxEvent.topic).where(m.OutboxEvent.aggregate_id == rid)
            )
        ).all()
    assert "referrals.consent.withdrawn" in topics
    # Again: nothing more happens; the page still says it is done.
    again = await world.client.post(f"{BASE}/{code}/withdraw", headers=ip)
    assert again.status_code == 200
    assert again.json()["stage"] == "withdrawn"


async def test_feedback_after_the_end_feeds_the_statistics(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    ip = address()
    open_one = await create_referral(world, await world.org("Autre"), partner)
    early = await world.client.post(
        f"{BASE}/{open_one['follow_up_code']}/feedback", json={"answer": "oui"}, headers=ip
    )
    assert early.status_code == 409
    codes = []
    for _ in range(6):
        created = await create_referral(world, ccas, partner)
        await _close(world, ccas, partner, created)
        codes.append(created["follow_up_code"])
    for code in codes[:5]:
        answer = await world.client.post(
            f"{BASE}/{code}/feedback",
            json={"answer": "oui", "comment": "Merci à Mme Dupont"},
            headers=ip,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["feedback"] == "oui"
        assert answer.json()["can_give_feedback"] is False
        assert "Dupont" not in answer.text
    non = await world.client.post(f"{BASE}/{codes[5]}/feedback", json={"answer": "non"}, headers=ip)
    assert non.status_code == 200
    twice = await world.client.post(
        f"{BASE}/{codes[5]}/feedback", json={"answer": "oui"}, headers=ip
    )
    assert twice.status_code == 409
    bad = await world.client.post(
        f"{BASE}/{codes[0]}/feedback", json={"answer": "peut-être"}, headers=ip
    )
    assert bad.status_code in (400, 422)

    stats = await world.client.get("/referrals/v1/stats", headers=ccas.member)
    assert stats.status_code == 200, stats.text
    table = next(t for t in stats.json()["tables"] if t["name"] == "avis_personne")
    row = next(r for r in table["rows"] if r["group"] == "*")
    # Six closed: five « oui », one « non » — a small cell, hidden with a complement so it
    # cannot be recomputed from the closed total.
    assert row["total"] == 6
    assert row["cells"]["non"] is None
    assert list(row["cells"].values()).count(None) >= 2
    assert row["cells"]["en_partie"] == 0
    async with world.app().state.db.session() as session:
        ref = await session.get(m.Referral, uuid.UUID(created["id"]))
        assert ref is not None
        assert ref.person_feedback == "non"
    # The comment is the person's: sealed, and erased with the rest.
    async with world.app().state.db.session() as session:
        first = await session.scalar(
            sa.select(m.FollowUpCode.referral_id).where(
                m.FollowUpCode.code_hash == hashlib.sha256(codes[0].encode()).hexdigest()
            )
        )
        ref = await session.get(m.Referral, first)
        assert ref is not None
        assert ref.person_feedback_comment_enc
        assert "Dupont" not in ref.person_feedback_comment_enc
    withdrawn = await world.client.post(f"{BASE}/{codes[0]}/withdraw", headers=ip)
    assert withdrawn.status_code == 200
    async with world.app().state.db.session() as session:
        ref = await session.get(m.Referral, first)
        assert ref is not None
        assert ref.person_feedback_comment_enc is None
        assert ref.person_feedback == "oui"


async def test_counters_are_forgotten_after_their_window(world: World) -> None:
    ip = address()
    miss = await world.client.get(f"{BASE}/{secrets.token_urlsafe(16)}", headers=ip)
    assert miss.status_code == 404
    key = f"ip:{ip['X-Forwarded-For']}"
    db = world.app().state.db
    settings = world.app().state.settings
    async with db.session() as session:
        assert await session.get(m.FollowUpThrottle, key) is not None
    # Within the window it stays; past it (and not locked), the job drops it.
    await jobs.forget_follow_up_counters(db, settings, utcnow())
    async with db.session() as session:
        row = await session.get(m.FollowUpThrottle, key)
        assert row is not None
        assert row.failures == 1
    later = utcnow() + timedelta(seconds=settings.referrals_follow_up_lockout_seconds + 1)
    assert await jobs.forget_follow_up_counters(db, settings, later) >= 1
    async with db.session() as session:
        assert await session.get(m.FollowUpThrottle, key) is None


async def test_a_burst_of_guesses_in_parallel_is_counted_in_full(world: World) -> None:
    ip = address()
    limit = world.app().state.settings.referrals_follow_up_ip_misses
    answers = await asyncio.gather(
        *(world.client.get(f"{BASE}/{secrets.token_urlsafe(16)}", headers=ip) for _ in range(limit))
    )
    assert sorted({a.status_code for a in answers}) == [404]  # no lost race ends in a 500
    async with world.app().state.db.session() as session:
        row = await session.get(m.FollowUpThrottle, f"ip:{ip['X-Forwarded-For']}")
        assert row is not None
        assert row.failures == limit
    late = await world.client.get(f"{BASE}/{secrets.token_urlsafe(16)}", headers=ip)
    assert late.status_code == 429
