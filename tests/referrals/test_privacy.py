"""Consent and privacy: who sees what, erasure on withdrawal, encryption at rest, access log,
attachments, and no personal data in the logs."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
import structlog

from services.referrals import models as m
from tests.referrals.conftest import (
    PERSONAL_VALUES,
    World,
    act,
    create_referral,
    read,
    referral_body,
)

PDF = b"%PDF-1.4\n% lettre de la CAF pour Aicha Benali-Testperson\n%%EOF\n"


def consent(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "given_by": "person",
        "method": "oral",
        "purpose": "Accompagnement",
        "data_categories": ["identity", "contact", "situation", "documents"],
        "onward_relay_allowed": True,
        "further_partners": False,
    }
    base.update(changes)
    return base


async def _raw_dump(world: World, referral_id: str) -> str:
    """Every column of every row tied to the referral, as stored (what a stolen backup shows)."""
    rid = uuid.UUID(referral_id)
    chunks: list[str] = []
    async with world.app().state.db.session() as session:
        for model in (m.Referral, m.Handoff, m.TimelineEvent, m.Attachment, m.AccessLogEntry):
            column = model.id if model is m.Referral else model.referral_id  # type: ignore[attr-defined]
            rows = (await session.execute(sa.select(model.__table__).where(column == rid))).all()  # type: ignore[attr-defined]
            chunks += [repr(tuple(r)) for r in rows]
        outbox = (
            await session.execute(
                sa.select(m.OutboxEvent.__table__).where(m.OutboxEvent.aggregate_id == referral_id)
            )
        ).all()
        chunks += [json.dumps(r.payload, ensure_ascii=False) for r in outbox]
        keys = (
            await session.execute(
                sa.select(m.IdempotencyRecord.__table__).where(
                    m.IdempotencyRecord.referral_id == rid
                )
            )
        ).all()
        chunks += [repr(tuple(r)) for r in keys]
    return "\n".join(chunks)


async def _upload(world: World, headers: dict[str, str], referral_id: str, **kw: Any) -> Any:
    return await world.client.post(
        f"/referrals/v1/referrals/{referral_id}/attachments",
        content=kw.get("content", PDF),
        headers={
            **headers,
            "Content-Type": kw.get("content_type", "application/pdf"),
            "Content-Disposition": 'attachment; filename="courrier-caf-benali.pdf"',
        },
    )


async def test_personal_data_is_encrypted_at_rest(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    await act(
        world, partner.member, created["id"], created["handoffs"][0], "decline",
        {"reason": "other", "comment": "Madame Benali-Testperson injoignable"},
    )  # fmt: skip
    assert (await _upload(world, ccas.member, created["id"])).status_code == 201
    dump = await _raw_dump(world, created["id"])
    for value in (*PERSONAL_VALUES, "Benali", "lettre de la CAF", "courrier-caf"):
        assert value not in dump
    async with world.app().state.db.session() as session:
        row = await session.get(m.Referral, uuid.UUID(created["id"]))
        key = await session.get(m.ReferralKey, uuid.UUID(created["id"]))
        assert row is not None
        assert row.person_enc is not None
        assert ":" not in row.person_enc  # sealed with the referral's key, not a keyring key
        assert key is not None
        assert key.wrapped.split(":", 1)[0] in world.app().state.keyring.get().keys


async def test_receiver_sees_only_consented_categories(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(
        world, ccas, partner, consent=consent(data_categories=["identity"])
    )
    seen = await read(world, partner.member, created["id"])
    assert seen["personal_data"] == "partial"
    assert seen["person"] == {
        "first_name": "Aïcha",
        "last_name": "Benali-Testperson",
        "birth_year": 1984,
    }
    assert seen["need"]["summary"] is None
    assert seen["attachments"] == []
    # The origin sees everything it recorded.
    mine = await read(world, ccas.member, created["id"])
    assert mine["personal_data"] == "full"
    assert mine["person"]["phone"] == "+33612345678"
    assert mine["need"]["summary"].startswith("Expulsion")


async def test_relay_to_a_target_the_consent_does_not_cover_is_refused(world: World) -> None:
    ccas, partner, third = await world.org(), await world.org(), await world.org()
    created = await create_referral(world, ccas, partner, consent=consent(further_partners=False))
    handoff = created["handoffs"][0]
    refused = await act(
        world, partner.member, created["id"], handoff, "relay",
        {"target": {"structure_id": str(third.id)}}, expect=422,
    )  # fmt: skip
    assert [e["field"] for e in refused["errors"]] == ["target.structure_id"]
    assert "le consentement ne couvre pas cette structure" in refused["detail"]
    assert "further partners" in refused["detail"]
    # Nothing changed: the third structure is no party, the handoff is where it was.
    assert (
        await world.client.get(f"/referrals/v1/referrals/{created['id']}", headers=third.member)
    ).status_code == 404
    mine = await read(world, partner.member, created["id"])
    assert [(h["state"], h["version"]) for h in mine["handoffs"]] == [("sent", 1)]
    # The exception: back to the structure that recorded the data (it sees it anyway).
    back = await act(
        world, partner.member, created["id"], handoff, "relay",
        {"target": {"structure_id": str(ccas.id)}}, expect=201,
    )  # fmt: skip
    assert back["to_structure_id"] == str(ccas.id)


async def test_relay_to_a_target_the_consent_covers(world: World) -> None:
    ccas, partner, third = await world.org(), await world.org(), await world.org()
    for terms in (
        consent(recipients=[str(partner.id), str(third.id)]),
        consent(further_partners=True),
    ):
        created = await create_referral(world, ccas, partner, consent=terms)
        await act(
            world, partner.member, created["id"], created["handoffs"][0], "relay",
            {"target": {"structure_id": str(third.id)}}, expect=201,
        )  # fmt: skip
        seen = await read(world, third.member, created["id"])
        assert seen["person"] is not None


async def test_expired_consent_hides_personal_data_from_receivers(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    soon = datetime.now(UTC) + timedelta(seconds=2)
    created = await create_referral(
        world, ccas, partner, consent=consent(expires_at=soon.isoformat())
    )
    assert (await read(world, partner.member, created["id"]))["person"] is not None
    async with world.app().state.db.session() as session:
        await session.execute(
            sa.update(m.Referral)
            .where(m.Referral.id == uuid.UUID(created["id"]))
            .values(consent_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    seen = await read(world, partner.member, created["id"])
    assert seen["consent"]["status"] == "expired"
    assert seen["person"] is None


async def test_every_personal_read_is_logged_and_admin_reads_the_log(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid = created["id"]
    await read(world, partner.member, rid)
    upload = await _upload(world, ccas.member, rid)
    attachment_id = upload.json()["id"]
    download = await world.client.get(
        f"/referrals/v1/referrals/{rid}/attachments/{attachment_id}", headers=partner.member
    )
    assert download.status_code == 200
    assert download.content == PDF
    assert "courrier-caf-benali.pdf" in download.headers["content-disposition"]

    member_log = await world.client.get(
        f"/referrals/v1/referrals/{rid}/access-log", headers=ccas.member
    )
    assert member_log.status_code == 403
    partner_admin = await world.client.get(
        f"/referrals/v1/referrals/{rid}/access-log", headers=partner.admin
    )
    assert partner_admin.status_code == 403
    log = await world.client.get(f"/referrals/v1/referrals/{rid}/access-log", headers=ccas.admin)
    assert log.status_code == 200
    entries = log.json()["items"]
    by_structure = {(e["structure_id"], e["resource"]) for e in entries}
    assert (str(partner.id), "referral") in by_structure
    assert (str(partner.id), "attachment") in by_structure
    assert (str(ccas.id), "referral") in by_structure  # the creation response carried it too
    assert all(set(e) >= {"actor_subject", "at", "categories"} for e in entries)

    # The structure-wide log covers every referral the structure sent, and only those.
    other = await create_referral(world, ccas, partner)
    await read(world, partner.member, other["id"])
    wide = await world.client.get(
        "/referrals/v1/access-log", params={"limit": 2}, headers=ccas.admin
    )
    assert wide.status_code == 200
    seen: list[dict[str, Any]] = []
    page = wide.json()
    while True:
        seen += page["items"]
        if not page["next_cursor"]:
            break
        page = (
            await world.client.get(
                "/referrals/v1/access-log",
                params={"limit": 2, "cursor": page["next_cursor"]},
                headers=ccas.admin,
            )
        ).json()
    assert {e["referral_id"] for e in seen} == {rid, other["id"]}
    assert len({e["id"] for e in seen}) == len(seen)
    assert (await world.client.get("/referrals/v1/access-log", headers=partner.admin)).json()[
        "items"
    ] == []
    bad = await world.client.get(
        "/referrals/v1/access-log", params={"cursor": "WyJub3BlIl0"}, headers=ccas.admin
    )
    assert bad.status_code == 400


async def test_withdrawal_erases_everything_personal(world: World) -> None:
    ccas, partner, other = await world.org(), await world.org(), await world.org()
    headers = {**ccas.member, "Idempotency-Key": f"w-{uuid.uuid4()}"}
    response = await world.client.post(
        "/referrals/v1/referrals", json=referral_body(partner), headers=headers
    )
    created = response.json()
    rid = created["id"]
    assert (await _upload(world, ccas.member, rid)).status_code == 201
    h1 = await act(
        world, partner.member, rid, created["handoffs"][0], "decline",
        {"reason": "conditions_not_met", "comment": "Aïcha n'habite pas le secteur"},
    )  # fmt: skip
    reoriented = await world.client.post(
        f"/referrals/v1/referrals/{rid}/handoffs",
        json={"target": {"structure_id": str(other.id)}, "comment": "Pour Aïcha"},
        headers=ccas.member,
    )
    assert reoriented.status_code == 201
    assert h1["state"] == "declined"
    # The comments are held (the origin reads them; the partner that declined no longer does).
    assert all(h["comment"] for h in (await read(world, ccas.member, rid))["handoffs"])

    # A member of a structure involved records the withdrawal (here: the partner that declined).
    withdrawn = await world.client.post(
        f"/referrals/v1/referrals/{rid}/consent/withdraw", headers=partner.member
    )
    assert withdrawn.status_code == 200, withdrawn.text
    body = withdrawn.json()
    assert body["status"] == "withdrawn"
    assert body["personal_data"] == "erased"

    view = await read(world, ccas.member, rid)
    assert view["person"] is None
    assert view["need"]["summary"] is None
    assert [h["state"] for h in view["handoffs"]] == ["declined", "cancelled"]
    assert all(h["comment"] is None for h in view["handoffs"])
    assert view["consent"]["status"] == "withdrawn"
    # Statistics fields stay.
    assert view["need"]["thematiques"]
    assert view["need"]["age_band"] == "26_44"
    assert view["need"]["sex"] == "female"
    assert view["need"]["channel"] == "walk_in"

    dump = await _raw_dump(world, rid)
    for value in (*PERSONAL_VALUES, "Aïcha", "Benali"):
        assert value not in dump
    async with world.app().state.db.session() as session:
        ref = await session.get(m.Referral, uuid.UUID(rid))
        assert ref is not None
        assert (ref.person_enc, ref.summary_enc, ref.evaluation_comment_enc) == (None, None, None)
        attachments = (
            await session.scalars(sa.select(m.Attachment).where(m.Attachment.referral_id == ref.id))
        ).all()
        assert attachments
        assert all(a.content is None and a.filename_enc is None for a in attachments)
        comments = await session.scalar(
            sa.select(sa.func.count())
            .select_from(m.TimelineEvent)
            .where(m.TimelineEvent.referral_id == ref.id, m.TimelineEvent.comment_enc.is_not(None))
        )
        assert comments == 0

    timeline = await world.client.get(
        f"/referrals/v1/referrals/{rid}/timeline", headers=ccas.member
    )
    types = [e["type"] for e in timeline.json()["items"]]
    assert types[-2:] == ["handoff.cancelled", "consent.withdrawn"]
    assert all(e["comment"] is None for e in timeline.json()["items"])

    # The stored first response is gone too: a retry cannot replay personal data.
    retry = await world.client.post(
        "/referrals/v1/referrals", json=referral_body(partner), headers=headers
    )
    assert retry.status_code == 410
    # Nothing moves after withdrawal, and it cannot be withdrawn twice.
    again = await world.client.post(
        f"/referrals/v1/referrals/{rid}/consent/withdraw", headers=ccas.member
    )
    assert again.status_code == 409
    gone = await world.client.get(
        f"/referrals/v1/referrals/{rid}/attachments/{uuid.uuid4()}", headers=ccas.member
    )
    assert gone.status_code == 404


async def test_attachment_limits(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid = created["id"]
    wrong_type = await _upload(world, ccas.member, rid, content_type="application/x-msdownload")
    assert wrong_type.status_code == 415
    lying = await _upload(world, ccas.member, rid, content=b"MZ\x90\x00 not a pdf")
    assert lying.status_code == 422
    empty = await _upload(world, ccas.member, rid, content=b"")
    assert empty.status_code == 422
    too_big = await _upload(world, ccas.member, rid, content=b"%PDF-" + b"0" * 1_000_000)
    assert too_big.status_code == 413
    by_partner = await _upload(world, partner.member, rid)
    assert by_partner.status_code == 403
    png = await _upload(
        world, ccas.member, rid, content=b"\x89PNG\r\n\x1a\n" + b"\0" * 20, content_type="image/png"
    )
    assert png.status_code == 201
    # Documents not covered by consent: the partner cannot download them.
    limited = await create_referral(
        world, ccas, partner, consent=consent(data_categories=["identity"])
    )
    up = await _upload(world, ccas.member, limited["id"])
    denied = await world.client.get(
        f"/referrals/v1/referrals/{limited['id']}/attachments/{up.json()['id']}",
        headers=partner.member,
    )
    assert denied.status_code == 403


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Any:
    """Every log line, structlog and stdlib, at DEBUG level, whatever the configured level."""
    captured: list[dict[str, Any]] = []
    previous = structlog.get_config()

    def capture(_: Any, method: str, event: dict[str, Any]) -> Any:
        captured.append(dict(event, level=method))
        raise structlog.DropEvent

    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )
    caplog.set_level(logging.DEBUG)
    try:
        yield lambda: json.dumps(captured, default=str, ensure_ascii=False) + caplog.text
    finally:
        structlog.configure(**previous)


async def test_full_lifecycle_logs_no_personal_data(world: World, all_logs: Any) -> None:
    ccas, partner, second = await world.org(), await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    rid = created["id"]
    await _upload(world, ccas.member, rid)
    await act(
        world, partner.member, rid, created["handoffs"][0], "decline",
        {"reason": "other", "comment": "Expulsion prévue, voir Aïcha"},
    )  # fmt: skip
    h2 = (
        await world.client.post(
            f"/referrals/v1/referrals/{rid}/handoffs",
            json={"target": {"structure_id": str(second.id)}, "add_recipient": True},
            headers=ccas.member,
        )
    ).json()
    h2 = await act(world, second.member, rid, h2, "accept")
    h2 = await act(world, second.member, rid, h2, "take-over")
    await world.client.post(
        f"/referrals/v1/referrals/{rid}/close",
        json={"outcome": "solution_found", "evaluation_comment": "Aïcha relogée"},
        headers=ccas.member,
    )
    await read(world, second.member, rid)
    await world.client.get(f"/referrals/v1/referrals/{rid}/timeline", headers=ccas.member)
    # Errors carrying personal data in the request must not echo it into the logs either.
    bad = referral_body(partner)
    bad["person"]["email"] = "Benali-Testperson@@nowhere"
    await world.client.post("/referrals/v1/referrals", json=bad, headers=ccas.member)
    await world.client.post(f"/referrals/v1/referrals/{rid}/consent/withdraw", headers=ccas.member)

    text = all_logs()
    assert "request" in text  # the access log was captured
    for value in (*PERSONAL_VALUES, "Aïcha", "Benali", "relogée", "courrier-caf"):
        assert value not in text, value


async def test_consent_expiry_keeps_its_instant_whatever_the_offset(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    paris = datetime.now(UTC).astimezone(timezone(timedelta(hours=2))) + timedelta(hours=1)
    created = await create_referral(
        world, ccas, partner, consent=consent(expires_at=paris.isoformat())
    )
    stored = datetime.fromisoformat(created["consent"]["expires_at"])
    assert stored == paris  # the same instant, given in UTC
    # Still one hour to go: the receiver sees the person.
    assert (await read(world, partner.member, created["id"]))["consent"]["status"] == "active"
