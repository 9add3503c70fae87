"""Retention (purge job, `relais purge`, dry run) and data-subject access exports."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.referrals import background
from services.referrals import models as m
from services.referrals.service.retention import months, purge
from tests.referrals.conftest import World, act, close_both_parts, create_referral, read

PDF = b"%PDF-1.4\n% courrier pour la personne\n%%EOF\n"


async def _upload(world: World, headers: dict[str, str], referral_id: str) -> str:
    response = await world.client.post(
        f"/referrals/v1/referrals/{referral_id}/attachments",
        content=PDF,
        headers={
            **headers,
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="courrier.pdf"',
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _age(world: World, referral_id: str, by: timedelta) -> None:
    """Move a referral's whole timeline back in time."""
    async with world.app().state.db.session() as session:
        events = (
            await session.scalars(
                sa.select(m.TimelineEvent).where(
                    m.TimelineEvent.referral_id == uuid.UUID(referral_id)
                )
            )
        ).all()
        for event in events:
            event.occurred_at = event.occurred_at - by


async def _closed(world: World, ccas: Any, partner: Any) -> str:
    created = await create_referral(world, ccas, partner)
    handoff = created["handoffs"][0]
    for action in ("acknowledge", "accept", "take-over"):
        handoff = await act(world, partner.member, created["id"], handoff, action)
    await close_both_parts(
        world,
        created["id"],
        ccas.member,
        partner.member,
        {"outcome": "solution_found", "evaluation_comment": "Merci beaucoup"},
    )
    return str(created["id"])


async def test_purge_erases_what_is_kept_too_long(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    old_closed = await _closed(world, ccas, partner)
    await _upload(world, ccas.member, old_closed)
    await _age(world, old_closed, months(25))

    declined = await create_referral(world, ccas, partner)
    await _upload(world, ccas.member, declined["id"])
    await act(
        world,
        partner.member,
        declined["id"],
        declined["handoffs"][0],
        "decline",
        {"reason": "out_of_scope", "comment": "Hors secteur"},
    )
    await _age(world, declined["id"], months(7))

    inactive = await create_referral(world, ccas, partner)
    await _age(world, inactive["id"], months(25))

    recent = await _closed(world, ccas, partner)

    app = world.app()
    dry = await purge(
        app.state.db, app.state.keyring.get(), app.state.settings, datetime.now(UTC), dry_run=True
    )
    assert uuid.UUID(old_closed) in dry.erased
    assert uuid.UUID(inactive["id"]) in dry.anonymised
    assert uuid.UUID(recent) not in dry.erased + dry.anonymised
    assert uuid.UUID(declined["id"]) not in dry.erased + dry.anonymised
    assert dry.attachments >= 2
    assert (await read(world, ccas.member, old_closed))["person"] is not None  # dry: untouched

    assert await background.purge(app) >= 3
    erased = await read(world, ccas.member, old_closed)
    assert erased["personal_data"] == "erased"
    assert erased["person"] is None
    assert erased["outcome"]["evaluation_comment"] is None
    assert erased["outcome"]["outcome"] == "solution_found"  # statistics stay
    assert erased["need"]["age_band"] == "26_44"
    assert all(a["erased"] for a in erased["attachments"])
    timeline = await world.client.get(
        f"/referrals/v1/referrals/{old_closed}/timeline", headers=ccas.member
    )
    assert timeline.json()["items"][-1]["type"] == "referral.erased"
    assert (await read(world, ccas.member, inactive["id"]))["person"] is None
    kept = await read(world, ccas.member, declined["id"])
    assert kept["person"] is not None  # 7 months: personal data kept…
    assert all(a["erased"] for a in kept["attachments"])  # …attachments gone after 6
    assert (await read(world, ccas.member, recent))["person"] is not None
    again = await purge(
        app.state.db, app.state.keyring.get(), app.state.settings, datetime.now(UTC), dry_run=True
    )
    assert uuid.UUID(old_closed) not in again.erased


async def test_purge_command_dry_run(world: World) -> None:
    settings = world.relais.settings
    env = {
        **os.environ,
        "RELAIS_HOME": str(settings.home),
        "DATABASE_URL": settings.database_url,
        "DATABASE_SCHEMA_PREFIX": settings.database_schema_prefix,
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        os.path.join(os.path.dirname(sys.executable), "relais"),
        "purge",
        "--dry-run",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert "seraient effacées" in out.decode()


async def test_subject_access_export(world: World) -> None:
    ccas, partner, other = await world.org("CCAS"), await world.org("P"), await world.org("X")
    created = await create_referral(world, ccas, partner)
    await _upload(world, ccas.member, created["id"])
    await act(
        world,
        partner.member,
        created["id"],
        created["handoffs"][0],
        "decline",
        {"reason": "no_capacity", "comment": "Complet"},
    )
    url = f"/referrals/v1/referrals/{created['id']}/export"
    # The partner declined: it holds nothing of the person any more.
    declined = await world.client.get(url, headers=partner.member)
    assert declined.status_code == 200, declined.text
    assert declined.json()["referral"]["person"] is None
    assert declined.json()["handoffs"][0]["comment"] is None
    # The export is for the person, through the structure that recorded the referral.
    response = await world.client.get(url, headers=ccas.member)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["referral"]["person"]["first_name"] == "Aïcha"
    assert body["referral"]["summary"].startswith("Expulsion")
    assert body["handoffs"][0]["comment"] == "Complet"
    assert [e["type"] for e in body["timeline"]][:3] == [
        "referral.created",
        "handoff.sent",
        "attachment.added",
    ]
    assert body["attachments"][0]["filename"] == "courrier.pdf"
    assert body["attachments"][0]["content_base64"]
    assert any(e["resource"] == "export" for e in body["access_log"])  # the export is logged
    assert "person_enc" not in str(body)
    assert (await world.client.get(url, headers=other.member)).status_code == 404
    assert (await world.client.get(url, headers=ccas.client("referrals:read"))).status_code == 403
    assert (await world.client.get(url)).status_code == 401
    log = await world.client.get(
        f"/referrals/v1/referrals/{created['id']}/access-log", headers=ccas.admin
    )
    assert log.status_code == 200, log.text
    assert any(e["resource"] == "export" for e in log.json()["items"])
