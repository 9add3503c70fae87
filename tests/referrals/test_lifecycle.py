"""The referral lifecycle through the real app and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.referrals import models as m
from services.referrals import worker
from tests.referrals.conftest import World, act, create_referral, read, referral_body


async def _outbox_topics(world: World, referral_id: str) -> list[str]:
    db = world.app().state.db
    async with db.session() as session:
        rows = await session.scalars(
            sa.select(m.OutboxEvent.topic)
            .where(m.OutboxEvent.aggregate_id == referral_id)
            .order_by(m.OutboxEvent.created_at, m.OutboxEvent.id)
        )
        return list(rows.all())


async def _timeline(
    world: World, headers: dict[str, str], referral_id: str
) -> list[dict[str, Any]]:
    response = await world.client.get(
        f"/referrals/v1/referrals/{referral_id}/timeline", headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_full_lifecycle_until_closed(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Association logement")
    service_id = await world.service(partner, days=3)
    created = await create_referral(
        world,
        ccas,
        partner,
        target={"structure_id": str(partner.id), "service_id": str(service_id)},
    )
    rid = created["id"]
    assert created["status"] == "in_progress"
    assert created["personal_data"] == "full"
    assert created["person"]["phone"] == "+33612345678"  # normalised E.164
    handoff = created["handoffs"][0]
    assert handoff["state"] == "sent"
    assert handoff["to_service_name"] == "Accompagnement logement"
    assert created["current_handoff_id"] == handoff["id"]
    # The service's own delay (3 days) sets the deadline.
    assert handoff["respond_by"][:10] >= created["created_at"][:10]

    seen = await read(world, partner.member, rid)
    assert seen["handoffs"][0]["allowed_actions"] == ["acknowledge", "accept", "decline", "relay"]

    handoff = await act(world, partner.member, rid, handoff, "acknowledge")
    assert handoff["state"] == "acknowledged"
    handoff = await act(world, partner.member, rid, handoff, "accept", {"comment": "RDV mardi"})
    assert handoff["state"] == "accepted"
    handoff = await act(world, partner.member, rid, handoff, "take-over")
    assert handoff["state"] == "taken_over"
    assert (await read(world, ccas.member, rid))["status"] == "taken_over"

    closed = await world.client.post(
        f"/referrals/v1/referrals/{rid}/close",
        json={"outcome": "solution_found", "evaluation_score": 5, "evaluation_comment": "Merci"},
        headers=ccas.member,
    )
    assert closed.status_code == 200, closed.text
    body = closed.json()
    # The referent's part is closed; the referral waits for the partner's.
    assert body["status"] == "taken_over"
    assert body["outcome"]["outcome"] == "solution_found"
    assert body["handoffs"][0]["state"] == "closed"
    assert body["closing_ends_at"] is not None
    ended = await world.client.post(
        f"/referrals/v1/referrals/{rid}/close",
        json={"outcome": "solution_found"},
        headers=partner.member,
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "closed"
    assert ended.json()["closing_ends_at"] is None

    types = [e["type"] for e in await _timeline(world, ccas.member, rid)]
    assert types == [
        "referral.created",
        "handoff.sent",
        "handoff.acknowledged",
        "handoff.accepted",
        "handoff.taken_over",
        "handoff.closed",
        "referral.part_closed",
        "referral.part_closed",
        "referral.closed",
    ]
    # Every timeline event has its outbox row, written in the same transaction.
    topics = await _outbox_topics(world, rid)
    assert sorted(topics) == sorted(f"referrals.{t}" for t in types)


async def test_decline_then_reorient_then_relay(world: World) -> None:
    ccas, first, second, third = (
        await world.org("CCAS"),
        await world.org("Premier partenaire"),
        await world.org("Second partenaire"),
        await world.org("Troisième partenaire"),
    )
    created = await create_referral(world, ccas, first)
    rid = created["id"]
    h1 = created["handoffs"][0]
    declined = await act(
        world, first.member, rid, h1, "decline",
        {"reason": "no_capacity", "comment": "Plus de place avant mars"},
    )  # fmt: skip
    assert declined["state"] == "declined"
    assert declined["decline_reason"] == "no_capacity"
    # The decline alerts the referent through the outbox.
    assert "referrals.alert.referent" in await _outbox_topics(world, rid)

    # The receiver may not re-orient; the sender may.
    refused = await world.client.post(
        f"/referrals/v1/referrals/{rid}/handoffs",
        json={"target": {"structure_id": str(second.id)}},
        headers=first.member,
    )
    assert refused.status_code == 403
    reoriented = await world.client.post(
        f"/referrals/v1/referrals/{rid}/handoffs",
        json={"target": {"structure_id": str(second.id)}, "add_recipient": True},
        headers=ccas.member,
    )
    assert reoriented.status_code == 201, reoriented.text
    h2 = reoriented.json()
    assert h2["position"] == 2
    assert h2["from_structure_id"] == str(ccas.id)

    h2 = await act(world, second.member, rid, h2, "accept")
    relayed = await act(
        world, second.member, rid, h2, "relay",
        {"target": {"structure_id": str(third.id)}, "comment": "Mieux placé"}, expect=201,
    )  # fmt: skip
    assert relayed["position"] == 3
    assert relayed["from_structure_id"] == str(second.id)
    assert relayed["to_structure_id"] == str(third.id)

    h3 = await act(world, third.member, rid, relayed, "accept")
    h3 = await act(world, third.member, rid, h3, "take-over")
    # The receiver may record the outcome too.
    closed = await world.client.post(
        f"/referrals/v1/referrals/{rid}/close", json={"outcome": "partial"}, headers=third.member
    )
    assert closed.status_code == 200, closed.text

    origin_view = await read(world, ccas.member, rid)
    assert [h["state"] for h in origin_view["handoffs"]] == ["declined", "relayed", "closed"]
    # The first partner, which declined, sees only its own handoff.
    first_view = await read(world, first.member, rid)
    assert [h["position"] for h in first_view["handoffs"]] == [1]
    # The third partner sees the handoff it received, not the earlier journey.
    third_view = await read(world, third.member, rid)
    assert [h["position"] for h in third_view["handoffs"]] == [3]


async def test_each_side_closes_and_evaluates_its_own_part(world: World) -> None:
    ccas, partner, other = await world.org(), await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid, handoff = created["id"], created["handoffs"][0]
    handoff = await act(world, partner.member, rid, handoff, "accept")
    await act(world, partner.member, rid, handoff, "take-over")
    url = f"/referrals/v1/referrals/{rid}/close"
    # The partner closes its part first: the referral waits for the referent's.
    first = await world.client.post(
        url, json={"outcome": "partial", "evaluation_score": 3}, headers=partner.member
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "taken_over"
    assert first.json()["outcome"]["side"] == "partner"
    assert first.json()["second_outcome"] is None
    assert "close" not in first.json()["allowed_actions"]  # its part is done
    # The referent still closes and evaluates its own part (no 409).
    mine = await read(world, ccas.member, rid)
    assert "close" in mine["allowed_actions"]
    second = await world.client.post(
        url,
        json={"outcome": "solution_found", "evaluation_score": 5, "evaluation_comment": "Bien"},
        headers=ccas.member,
    )
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["status"] == "closed"  # both parts are closed: the referral ends
    assert body["outcome"]["outcome"] == "partial"
    assert body["second_outcome"]["outcome"] == "solution_found"
    assert body["second_outcome"]["side"] == "referent"
    assert body["second_outcome"]["evaluation_comment"] == "Bien"
    assert "close" not in body["allowed_actions"]
    # Each part is closed once; a stranger is told nothing.
    for headers, status in ((ccas.member, 409), (partner.member, 409), (other.member, 404)):
        again = await world.client.post(url, json={"outcome": "partial"}, headers=headers)
        assert again.status_code == status, again.text
    types = [e["type"] for e in await _timeline(world, ccas.member, rid)]
    assert types[-4:] == [
        "handoff.closed",
        "referral.part_closed",
        "referral.part_closed",
        "referral.closed",
    ]
    # The second evaluation's comment is sealed like the first, and goes with the consent.
    async with world.app().state.db.session() as session:
        stored = await session.get(m.Referral, uuid.UUID(rid))
        assert stored is not None
        assert stored.second_evaluation_comment_enc
        assert "Bien" not in stored.second_evaluation_comment_enc
    withdrawn = await world.client.post(
        f"/referrals/v1/referrals/{rid}/consent/withdraw", headers=ccas.member
    )
    assert withdrawn.status_code == 200, withdrawn.text
    async with world.app().state.db.session() as session:
        stored = await session.get(m.Referral, uuid.UUID(rid))
        assert stored is not None
        assert stored.second_evaluation_comment_enc is None


async def test_reading_the_other_sides_evaluation_comment_is_logged(world: World) -> None:
    """An evaluation comment tells of the person's situation: a read that shows only the second
    side's comment (no summary, no other comment) is logged with that category."""
    ccas, partner = await world.org(), await world.org()
    need = {k: v for k, v in referral_body(partner)["need"].items() if k != "summary"}
    created = await create_referral(world, ccas, partner, need=need)
    rid, handoff = created["id"], created["handoffs"][0]
    handoff = await act(world, partner.member, rid, handoff, "accept")
    await act(world, partner.member, rid, handoff, "take-over")
    url = f"/referrals/v1/referrals/{rid}/close"
    for headers, body in (
        (partner.member, {"outcome": "partial"}),
        (ccas.member, {"outcome": "solution_found", "evaluation_comment": "Relogée"}),
    ):
        closed = await world.client.post(url, json=body, headers=headers)
        assert closed.status_code == 200, closed.text
    seen = await read(world, partner.member, rid)
    assert seen["outcome"]["evaluation_comment"] is None
    assert seen["second_outcome"]["evaluation_comment"] == "Relogée"
    log = await world.client.get(f"/referrals/v1/referrals/{rid}/access-log", headers=ccas.admin)
    assert log.status_code == 200, log.text
    reads = [
        e["categories"]
        for e in log.json()["items"]
        if e["structure_id"] == str(partner.id) and e["resource"] == "referral"
    ]
    assert any("situation" in categories for categories in reads), reads


async def test_the_other_part_is_closed_within_the_closing_delay(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid, handoff = created["id"], created["handoffs"][0]
    handoff = await act(world, partner.member, rid, handoff, "accept")
    await act(world, partner.member, rid, handoff, "take-over")
    url = f"/referrals/v1/referrals/{rid}/close"
    closed = await world.client.post(url, json={"outcome": "partial"}, headers=ccas.member)
    assert closed.status_code == 200, closed.text
    assert closed.json()["outcome"]["side"] == "referent"
    days = world.app().state.settings.referrals_closing_days
    assert days == 30
    # Within the delay the worker leaves it waiting for the partner's part.
    assert await worker.end_closings(world.app()) == 0
    assert (await read(world, ccas.member, rid))["status"] == "taken_over"
    async with world.app().state.db.session() as session:
        await session.execute(
            sa.update(m.Referral)
            .where(m.Referral.id == uuid.UUID(rid))
            .values(closed_at=datetime.now(UTC) - timedelta(days=days, minutes=1))
        )
        await session.commit()
    assert "close" not in (await read(world, partner.member, rid))["allowed_actions"]
    late = await world.client.post(url, json={"outcome": "partial"}, headers=partner.member)
    assert late.status_code == 409, late.text
    assert "plus de 30 jours" in late.json()["detail"]
    # Past the delay, the worker ends the referral with the one part it has, once.
    assert await worker.end_closings(world.app()) == 1
    assert await worker.end_closings(world.app()) == 0
    ended = await read(world, ccas.member, rid)
    assert ended["status"] == "closed"
    assert ended["outcome"]["outcome"] == "partial"
    assert ended["second_outcome"] is None
    last = (await _timeline(world, ccas.member, rid))[-1]
    assert (last["type"], last["reason"]) == ("referral.closed", "closing_delay_elapsed")


async def test_reorient_to_a_partner_the_consent_does_not_cover_needs_the_agreement(
    world: World,
) -> None:
    ccas, first, second = await world.org(), await world.org(), await world.org()
    terms = {
        "given_by": "person",
        "method": "oral",
        "purpose": "Aide",
        "data_categories": ["identity"],
        "further_partners": False,
    }
    created = await create_referral(world, ccas, first, consent=terms)
    rid = created["id"]
    await act(
        world, first.member, rid, created["handoffs"][0], "decline",
        {"reason": "no_capacity", "comment": "Plus de place"},
    )  # fmt: skip
    url = f"/referrals/v1/referrals/{rid}/handoffs"
    target = {"structure_id": str(second.id)}
    blind = await world.client.post(url, json={"target": target}, headers=ccas.member)
    assert blind.status_code == 422, blind.text
    assert [e["field"] for e in blind.json()["errors"]] == ["add_recipient"]
    assert "le consentement ne couvre pas cette structure" in blind.json()["detail"]
    agreed = await world.client.post(
        url, json={"target": target, "add_recipient": True}, headers=ccas.member
    )
    assert agreed.status_code == 201, agreed.text
    assert str(second.id) in (await read(world, ccas.member, rid))["consent"]["recipients"]


async def test_relay_refused_without_onward_consent(world: World) -> None:
    ccas, partner, other = await world.org(), await world.org(), await world.org()
    body = {
        "given_by": "person",
        "method": "written",
        "purpose": "Aide alimentaire",
        "data_categories": ["identity"],
        "onward_relay_allowed": False,
    }
    created = await create_referral(world, ccas, partner, consent=body)
    response = await world.client.post(
        f"/referrals/v1/referrals/{created['id']}/handoffs/{created['handoffs'][0]['id']}/relay",
        json={"target": {"structure_id": str(other.id)}},
        headers={**partner.member, "If-Match": '"1"'},
    )
    assert response.status_code == 403
    assert "consentement" in response.json()["detail"]


async def test_wrong_state_is_409_with_current_state(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid, h = created["id"], created["handoffs"][0]
    response = await world.client.post(
        f"/referrals/v1/referrals/{rid}/handoffs/{h['id']}/take-over",
        headers={**partner.member, "If-Match": '"1"'},
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["extra"]["current_state"] == "sent"
    assert response.headers["content-type"].startswith("application/problem+json")
    # Close before takeover is refused too.
    close = await world.client.post(
        f"/referrals/v1/referrals/{rid}/close", json={"outcome": "no_solution"}, headers=ccas.member
    )
    assert close.status_code == 409


async def test_if_match_is_required_and_checked(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid, h = created["id"], created["handoffs"][0]
    url = f"/referrals/v1/referrals/{rid}/handoffs/{h['id']}/accept"
    missing = await world.client.post(url, headers=partner.member)
    assert missing.status_code == 428
    bad = await world.client.post(url, headers={**partner.member, "If-Match": "nope"})
    assert bad.status_code == 400
    stale = await world.client.post(url, headers={**partner.member, "If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.json()["extra"]["current_version"] == 1
    got = await world.client.get(
        f"/referrals/v1/referrals/{rid}/handoffs/{h['id']}", headers=partner.member
    )
    assert got.headers["etag"] == '"1"'
    ok = await world.client.post(url, headers={**partner.member, "If-Match": got.headers["etag"]})
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'


async def test_cancel_and_change_referent(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid, h = created["id"], created["handoffs"][0]
    await act(world, partner.member, rid, h, "cancel", {"reason": "other"}, expect=403)
    cancelled = await act(world, ccas.member, rid, h, "cancel", {"reason": "solved_elsewhere"})
    assert cancelled["state"] == "cancelled"
    assert cancelled["cancel_reason"] == "solved_elsewhere"
    response = await world.client.post(
        f"/referrals/v1/referrals/{rid}/referent",
        json={"referent": "collegue-42"},
        headers=ccas.member,
    )
    assert response.status_code == 200, response.text
    assert response.json()["referent"] == "collegue-42"
    by_partner = await world.client.post(
        f"/referrals/v1/referrals/{rid}/referent", json={"referent": "x"}, headers=partner.member
    )
    assert by_partner.status_code == 403
    types = [e["type"] for e in await _timeline(world, ccas.member, rid)]
    assert types[-2:] == ["handoff.cancelled", "referral.referent_changed"]


async def test_inbox_and_outbox(world: World) -> None:
    ccas, partner, other = await world.org(), await world.org(), await world.org()
    first = await create_referral(world, ccas, partner)
    second = await create_referral(
        world, ccas, partner, need={"thematiques": ["famille--garde-denfants"], "channel": "phone"}
    )
    await create_referral(world, ccas, other)
    await act(world, partner.member, second["id"], second["handoffs"][0], "accept")

    inbox = await world.client.get("/referrals/v1/inbox", headers=partner.member)
    assert inbox.status_code == 200, inbox.text
    items = inbox.json()["items"]
    assert [i["referral_id"] for i in items] == [second["id"], first["id"]]
    assert all("person" not in i and i["handoff"]["comment"] is None for i in items)
    assert items[0]["referent"] is None  # the sender's staff is not the receiver's business

    accepted = await world.client.get(
        "/referrals/v1/inbox", params={"state": "accepted"}, headers=partner.member
    )
    assert [i["referral_id"] for i in accepted.json()["items"]] == [second["id"]]
    by_theme = await world.client.get(
        "/referrals/v1/inbox",
        params={"thematique": "famille--garde-denfants"},
        headers=partner.member,
    )
    assert [i["referral_id"] for i in by_theme.json()["items"]] == [second["id"]]
    overdue = await world.client.get(
        "/referrals/v1/inbox", params={"overdue": "true"}, headers=partner.member
    )
    assert overdue.json()["items"] == []

    outbox = await world.client.get(
        "/referrals/v1/outbox", params={"limit": 2}, headers=ccas.member
    )
    page = outbox.json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    rest = await world.client.get(
        "/referrals/v1/outbox",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=ccas.member,
    )
    ids = [i["referral_id"] for i in page["items"] + rest.json()["items"]]
    assert sorted(ids) == sorted([first["id"], second["id"], ids[0]] if len(ids) == 3 else ids)
    assert len(set(ids)) == 3
    mine = await world.client.get(
        "/referrals/v1/outbox", params={"referent": ccas.member_subject}, headers=ccas.member
    )
    assert len(mine.json()["items"]) == 3

    bad = await world.client.get(
        "/referrals/v1/inbox", params={"cursor": "!!"}, headers=partner.member
    )
    assert bad.status_code == 400
    bad_theme = await world.client.get(
        "/referrals/v1/inbox", params={"thematique": "nope"}, headers=partner.member
    )
    assert bad_theme.status_code == 400
