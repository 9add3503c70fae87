"""Free text staff fill with personal details is sealed like the person's data: the consent's
purpose and a referent given as free text (a referent naming a staff account is kept as a
reference to it). Existing rows are converted by the migration."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from services.kernel.db import Database
from services.kernel.migrations import upgrade
from services.referrals import models as m
from services.referrals.app import MIGRATIONS
from services.referrals.crypto import load_keyring
from tests.conftest import make_settings, require_postgres
from tests.referrals.conftest import World, create_referral, read, referral_body
from tests.tokens import TokenFactory

PURPOSE = "Hébergement pour Mme Benali-Testperson et ses enfants"
FREE_REFERENT = "Julie Martin, CESF au CCAS"


async def _row(world: World, referral_id: str) -> m.Referral:
    async with world.app().state.db.session() as session:
        row = await session.get(m.Referral, uuid.UUID(referral_id))
    assert row is not None
    return row


async def test_purpose_and_free_text_referent_are_sealed(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    consent = {**referral_body(partner)["consent"], "purpose": PURPOSE}
    consent["data_categories"] = ["identity"]
    created = await create_referral(world, ccas, partner, referent=FREE_REFERENT, consent=consent)
    row = await _row(world, created["id"])
    assert row.referent_subject is None
    assert row.referent_enc is not None
    assert row.consent_purpose_enc is not None
    stored = repr([getattr(row, c.key) for c in m.Referral.__table__.columns])
    assert "Benali" not in stored
    assert "Julie" not in stored
    # The origin reads them back; a receiver reads the purpose of what it holds, not the free
    # text of a referent (no situation category in this consent).
    mine = await read(world, ccas.member, created["id"])
    assert (mine["referent"], mine["consent"]["purpose"]) == (FREE_REFERENT, PURPOSE)
    theirs = await read(world, partner.member, created["id"])
    assert theirs["referent"] is None
    assert theirs["consent"]["purpose"] == PURPOSE


async def test_a_referent_naming_an_account_stays_a_reference(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)  # default: the caller's account
    row = await _row(world, created["id"])
    assert (row.referent_subject, row.referent_enc) == (ccas.member_subject, None)
    colleague = str(uuid.uuid4())
    changed = await world.client.post(
        f"/referrals/v1/referrals/{created['id']}/referent",
        json={"referent": colleague},
        headers=ccas.member,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["referent"] == colleague
    assert (await _row(world, created["id"])).referent_subject == colleague
    # Outbox lists filter by the referent's account.
    listed = await world.client.get(
        "/referrals/v1/outbox", params={"referent": colleague}, headers=ccas.member
    )
    assert [i["referral_id"] for i in listed.json()["items"]] == [created["id"]]


async def test_withdrawal_erases_purpose_and_referent(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner, referent=FREE_REFERENT)
    response = await world.client.post(
        f"/referrals/v1/referrals/{created['id']}/consent/withdraw", headers=ccas.member
    )
    assert response.status_code == 200, response.text
    row = await _row(world, created["id"])
    assert (row.referent_enc, row.consent_purpose_enc) == (None, None)


async def _migrated(backend: str, home: Path, tokens: TokenFactory) -> None:
    settings = make_settings(backend, home, tokens)
    db = Database(settings, "referrals")
    try:
        await upgrade(db, MIGRATIONS, "5c1f0e7a9b2d")  # before the purpose was sealed
        account, free = uuid.uuid4(), uuid.uuid4()
        async with db.engine.begin() as conn:
            for referral_id, referent in ((account, str(uuid.uuid4())), (free, FREE_REFERENT)):
                await conn.execute(
                    sa.text(
                        "INSERT INTO referrals (id, structure_id, created_by, referent, status,"
                        " version, thematiques, urgency, channel, age_band, sex,"
                        " consent_given_by, consent_method, consent_captured_by,"
                        " consent_given_at, consent_purpose, consent_categories,"
                        " consent_recipients, consent_further_partners, onward_relay_allowed,"
                        " created_at, updated_at) VALUES (:id, :sid, 'u', :referent,"
                        " 'in_progress', 1, '[]', 'normal', 'walk_in', 'unknown', 'unknown',"
                        " 'person', 'oral', 'u', :now, :purpose, '[]', '[]', false, false,"
                        " :now, :now)"
                    ).bindparams(
                        sa.bindparam("id", type_=sa.Uuid()),
                        sa.bindparam("sid", type_=sa.Uuid()),
                        sa.bindparam("now", type_=sa.DateTime(timezone=True)),
                    ),
                    {
                        "id": referral_id,
                        "sid": uuid.uuid4(),
                        "referent": referent,
                        "purpose": PURPOSE,
                        "now": datetime(2026, 11, 30, tzinfo=UTC),
                    },
                )
        await upgrade(db, MIGRATIONS)
        keyring = load_keyring(settings)
        async with db.session() as session:
            rows = {r.id: r for r in (await session.scalars(sa.select(m.Referral))).all()}
            keys = {
                k.referral_id: keyring.unwrap(k.wrapped, k.referral_id)
                for k in (await session.scalars(sa.select(m.ReferralKey))).all()
            }
        assert rows[account].referent_subject is not None
        assert rows[account].referent_enc is None
        assert rows[free].referent_subject is None
        assert rows[free].referent_enc is not None
        # (Sealed since with each referral's own data key, by a later migration.)
        assert (
            keys[free].open(rows[free].referent_enc, f"referral:{free}:referent") == FREE_REFERENT
        )
        for referral_id, row in rows.items():
            assert row.consent_purpose_enc is not None
            purpose = keys[referral_id].open(
                row.consent_purpose_enc, f"referral:{referral_id}:purpose"
            )
            assert purpose == PURPOSE
    finally:
        if backend == "postgresql":
            async with db.engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{db.schema}" CASCADE'))
        await db.dispose()


async def test_the_migration_seals_existing_rows_sqlite(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    await _migrated("sqlite", tmp_path, tokens)


async def test_the_migration_seals_existing_rows_postgresql(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    await require_postgres()
    await _migrated("postgresql", tmp_path, tokens)
