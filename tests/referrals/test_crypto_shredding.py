"""Crypto-shredding: each referral's personal values are sealed with its own data key, wrapped by
the keyring; withdrawal and retention erasure destroy that key in the same transaction, so a copy
of the values taken before (a backup, an old row version) opens with nothing left."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.kernel.db import Database, JSONType, UTCDateTime
from services.kernel.migrations import upgrade
from services.referrals import models as m
from services.referrals.app import MIGRATIONS
from services.referrals.crypto import load_keyring
from services.referrals.service.retention import months, purge
from tests.conftest import make_settings, require_postgres
from tests.referrals.conftest import World, act, create_referral, read
from tests.referrals.sealed import (
    LEGACY_REFERRAL_FIELDS,
    Sealed,
    opens,
    readable,
    sealed_values,
)
from tests.tokens import TokenFactory

PDF = b"%PDF-1.4\n% lettre de la CAF pour Aicha Benali-Testperson\n%%EOF\n"
# Every place a value is sealed (an evaluation comment waits for the closing).
EVERY_PLACE = {
    "referrals.person_enc",
    "referrals.summary_enc",
    "referrals.consent_purpose_enc",
    "referrals.referent_enc",
    "handoff.comment_enc",
    "event.comment_enc",
    "attachments.filename_enc",
    "attachments.content",
    "idempotency_keys.response_enc",
}


async def _full_referral(world: World) -> tuple[Any, Any, dict[str, Any]]:
    """A referral with a value in every sealed place: person, summary, purpose, free-text
    referent, a handoff and a timeline comment, an attachment, a stored idempotent answer."""
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(
        world,
        ccas,
        partner,
        headers={**ccas.member, "Idempotency-Key": f"create-{uuid.uuid4()}"},
        referent="Julie Martin, CESF",
    )
    await act(
        world, partner.member, created["id"], created["handoffs"][0], "decline",
        {"reason": "other", "comment": "Madame Benali-Testperson injoignable"},
    )  # fmt: skip
    upload = await world.client.post(
        f"/referrals/v1/referrals/{created['id']}/attachments",
        content=PDF,
        headers={
            **ccas.member,
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="courrier-benali.pdf"',
        },
    )
    assert upload.status_code == 201, upload.text
    return ccas, partner, created


async def _backup(world: World, referral_id: str, *, complete: bool = True) -> list[Sealed]:
    """The referral's sealed values as a backup taken now holds them; every one of them opens
    with what the database and keyring hold now (so the checks after erasure mean something)."""
    app = world.app()
    backup = await sealed_values(app.state.db, referral_id)
    assert {s.where for s in backup} >= (EVERY_PLACE if complete else {"referrals.person_enc"})
    opened = await readable(app.state.db, app.state.keyring.get(), backup)
    assert sorted(opened) == sorted(s.where for s in backup)
    return backup


async def _age(world: World, referral_id: str) -> None:
    """Move the referral's timeline back past every retention period."""
    async with world.app().state.db.session() as session:
        for event in await session.scalars(
            sa.select(m.TimelineEvent).where(m.TimelineEvent.referral_id == uuid.UUID(referral_id))
        ):
            event.occurred_at = event.occurred_at - months(25)


async def _key_row(world: World, referral_id: str) -> m.ReferralKey | None:
    async with world.app().state.db.session() as session:
        return await session.get(m.ReferralKey, uuid.UUID(referral_id))


async def test_withdrawal_makes_every_earlier_copy_unreadable(world: World) -> None:
    ccas, _, created = await _full_referral(world)
    rid = created["id"]
    other = await create_referral(world, ccas, await world.org())  # its key stays
    backup = await _backup(world, rid)

    withdrawn = await world.client.post(
        f"/referrals/v1/referrals/{rid}/consent/withdraw", headers=ccas.member
    )
    assert withdrawn.status_code == 200, withdrawn.text

    assert await _key_row(world, rid) is None  # destroyed with the values, in one transaction
    app = world.app()
    # Neither the keyring nor any data key left in the database opens the earlier copy.
    assert await readable(app.state.db, app.state.keyring.get(), backup) == []
    # The other referral is untouched.
    assert await _key_row(world, other["id"]) is not None
    assert (await read(world, ccas.member, other["id"]))["person"]["first_name"] == "Aïcha"


async def test_embedded_database_file_keeps_no_copy_of_a_destroyed_key(world: World) -> None:
    """SQLite (the embedded mode) overwrites deleted content (``secure_delete``): once the WAL is
    checkpointed, the database file holds no copy of a withdrawn referral's wrapped key."""
    if world.backend != "sqlite":
        pytest.skip("SQLite's file only: PostgreSQL keeps old row versions (docs/operations.md)")
    ccas, partner = await world.org(), await world.org()
    # Keys of other referrals before and after it, on the same page: the page stays in use.
    await create_referral(world, ccas, partner)
    created = await create_referral(world, ccas, partner)
    await create_referral(world, ccas, partner)
    stored = await _key_row(world, created["id"])
    assert stored is not None
    wrapped = stored.wrapped.encode()
    app = world.app()
    path = app.state.settings.home / "referrals.db"

    async def file_after_checkpoint() -> bytes:
        async with app.state.db.engine.connect() as conn:
            busy, _, _ = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
        assert busy == 0
        return path.read_bytes()

    async with app.state.db.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA secure_delete")).scalar() == 1
    assert wrapped in await file_after_checkpoint()  # the check can see it
    withdrawn = await world.client.post(
        f"/referrals/v1/referrals/{created['id']}/consent/withdraw", headers=ccas.member
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert wrapped not in await file_after_checkpoint()


async def test_retention_erasure_makes_every_earlier_copy_unreadable(world: World) -> None:
    ccas, _, created = await _full_referral(world)  # declined: it ended
    rid = created["id"]
    backup = await _backup(world, rid)
    app = world.app()
    await _age(world, rid)

    report = await purge(
        app.state.db, app.state.keyring.get(), app.state.settings, datetime.now(UTC), dry_run=False
    )

    assert uuid.UUID(rid) in report.erased
    assert await _key_row(world, rid) is None
    assert await readable(app.state.db, app.state.keyring.get(), backup) == []
    assert (await read(world, ccas.member, rid))["person"] is None


async def test_an_anonymised_open_referral_gets_a_new_key_for_new_text(world: World) -> None:
    """Erased for inactivity while still open, then answered with a comment: the comment is
    sealed with a new key (not shown: the referral is anonymised, but kept like any comment until
    the next erasure); what was sealed before stays unreadable."""
    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner, referent="Julie Martin, CESF")
    rid = created["id"]
    backup = await _backup(world, rid, complete=False)
    app = world.app()
    await _age(world, rid)
    now = datetime.now(UTC)
    report = await purge(
        app.state.db, app.state.keyring.get(), app.state.settings, now, dry_run=False
    )
    assert uuid.UUID(rid) in report.anonymised
    assert await _key_row(world, rid) is None

    handoff = (await read(world, partner.member, rid))["handoffs"][0]
    await act(world, partner.member, rid, handoff, "decline", {"reason": "other", "comment": "Vu"})
    assert await _key_row(world, rid) is not None
    now_sealed = await sealed_values(app.state.db, rid)
    assert {s.where for s in now_sealed} == {"handoff.comment_enc", "event.comment_enc"}
    keyring = app.state.keyring.get()
    assert sorted(await readable(app.state.db, keyring, now_sealed)) == sorted(
        s.where for s in now_sealed
    )
    assert await readable(app.state.db, keyring, backup) == []


async def test_values_open_with_their_referrals_key_only(world: World) -> None:
    """The keyring never opens a person's value itself: only the referral's own data key does,
    and each referral has its own."""
    ccas, partner = await world.org(), await world.org()
    first = await create_referral(world, ccas, partner)
    second = await create_referral(world, ccas, partner)
    keyring = world.app().state.keyring.get()
    found = [await _key_row(world, r["id"]) for r in (first, second)]
    data_keys = [keyring.unwrap(k.wrapped, k.referral_id).material for k in found if k]
    assert len(set(data_keys)) == 2
    values = await sealed_values(world.app().state.db, first["id"])
    assert values
    for value in values:
        assert opens(value, data_keys[:1])
        assert not opens(value, list(keyring.keys.values()))


# -- the migration: existing rows get a data key each ---------------------------------------------

_T = {
    "referrals": sa.table(
        "referrals",
        *(sa.column(n, sa.Uuid()) for n in ("id", "structure_id")),
        *(
            sa.column(n, sa.String())
            for n in (
                "created_by",
                "referent_subject",
                "referent_enc",
                "status",
                "urgency",
                "channel",
                "age_band",
                "sex",
                "person_enc",
                "summary_enc",
                "consent_given_by",
                "consent_method",
                "consent_captured_by",
                "consent_purpose_enc",
            )
        ),
        sa.column("version", sa.Integer()),
        *(sa.column(n, JSONType()) for n in ("thematiques", "consent_categories")),
        sa.column("consent_recipients", JSONType()),
        *(sa.column(n, sa.Boolean()) for n in ("consent_further_partners", "onward_relay_allowed")),
        *(
            sa.column(n, UTCDateTime())
            for n in ("consent_given_at", "erased_at", "created_at", "updated_at")
        ),
    ),
    "handoffs": sa.table(
        "handoffs",
        *(
            sa.column(n, sa.Uuid())
            for n in ("id", "referral_id", "from_structure_id", "to_structure_id")
        ),
        *(sa.column(n, sa.Integer()) for n in ("position", "version")),
        *(
            sa.column(n, sa.String())
            for n in ("to_structure_name", "state", "comment_enc", "created_by")
        ),
        *(sa.column(n, UTCDateTime()) for n in ("respond_by", "created_at", "updated_at")),
    ),
    "events": sa.table(
        "events",
        *(sa.column(n, sa.Uuid()) for n in ("id", "referral_id")),
        *(
            sa.column(n, sa.String())
            for n in ("type", "actor_kind", "actor_subject", "comment_enc")
        ),
        *(sa.column(n, JSONType()) for n in ("structures", "data")),
        sa.column("occurred_at", UTCDateTime()),
    ),
    "attachments": sa.table(
        "attachments",
        *(sa.column(n, sa.Uuid()) for n in ("id", "referral_id")),
        *(
            sa.column(n, sa.String())
            for n in ("filename_enc", "content_type", "key_id", "created_by")
        ),
        sa.column("size", sa.Integer()),
        sa.column("content", sa.LargeBinary()),
        sa.column("created_at", UTCDateTime()),
    ),
    "idempotency_keys": sa.table(
        "idempotency_keys",
        *(sa.column(n, sa.String()) for n in ("owner", "key", "request_hash", "response_enc")),
        sa.column("referral_id", sa.Uuid()),
        sa.column("status_code", sa.Integer()),
        *(sa.column(n, JSONType()) for n in ("headers", "categories")),
        sa.column("created_at", UTCDateTime()),
    ),
}


async def _migrated(backend: str, home: Path, tokens: TokenFactory) -> None:
    settings = make_settings(backend, home, tokens)
    db = Database(settings, "referrals")
    keyring = load_keyring(settings)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    live, erased, handoff, event, attachment = (uuid.uuid4() for _ in range(5))
    try:
        await upgrade(db, MIGRATIONS, "7b2e9c41d0a5")  # values sealed with the keyring itself
        nonce = os.urandom(12)
        content = nonce + AESGCM(keyring.keys[keyring.current]).encrypt(
            nonce, PDF, f"attachment:{attachment}".encode()
        )
        async with db.engine.begin() as conn:
            for referral_id in (live, erased):
                gone = referral_id == erased
                await conn.execute(
                    sa.insert(_T["referrals"]).values(
                        id=referral_id, structure_id=uuid.uuid4(), created_by="u",
                        referent_subject=None, status="in_progress", version=1,
                        thematiques=[], urgency="normal", channel="walk_in", age_band="unknown",
                        sex="unknown", consent_given_by="person", consent_method="oral",
                        consent_captured_by="u", consent_given_at=now, consent_categories=[],
                        consent_recipients=[], consent_further_partners=False,
                        onward_relay_allowed=False, created_at=now, updated_at=now,
                        erased_at=now if gone else None,
                        person_enc=None if gone else keyring.seal(
                            '{"first_name":"Aïcha"}', f"referral:{referral_id}:person"
                        ),
                        referent_enc=None if gone else keyring.seal(
                            "Julie", f"referral:{referral_id}:referent"
                        ),
                    )
                )  # fmt: skip
            await conn.execute(
                sa.insert(_T["handoffs"]).values(
                    id=handoff, referral_id=live, from_structure_id=uuid.uuid4(),
                    to_structure_id=uuid.uuid4(), position=1, version=1, to_structure_name="P",
                    state="declined", created_by="u", respond_by=now, created_at=now,
                    updated_at=now,
                    comment_enc=keyring.seal("Injoignable", f"handoff:{handoff}:comment"),
                )
            )  # fmt: skip
            await conn.execute(
                sa.insert(_T["events"]).values(
                    id=event, referral_id=live, type="handoff.declined", actor_kind="user",
                    actor_subject="u", structures=[], data={}, occurred_at=now,
                    comment_enc=keyring.seal("Injoignable", f"event:{event}:comment"),
                )
            )  # fmt: skip
            await conn.execute(
                sa.insert(_T["attachments"]).values(
                    id=attachment, referral_id=live, content_type="application/pdf",
                    size=len(PDF), created_by="u", created_at=now, key_id=keyring.current,
                    content=content,
                    filename_enc=keyring.seal("caf.pdf", f"attachment:{attachment}"),
                )
            )  # fmt: skip
            for owner, referral_id in (("live", live), ("erased", erased), ("none", None)):
                await conn.execute(
                    sa.insert(_T["idempotency_keys"]).values(
                        owner=owner, key="k", request_hash="h", referral_id=referral_id,
                        status_code=201, headers={}, categories=[], created_at=now,
                        response_enc=keyring.seal('{"ok":1}', f"idempotency:{owner}:k"),
                    )
                )  # fmt: skip
        backup = await sealed_values(db, str(live), LEGACY_REFERRAL_FIELDS)
        assert len(backup) == 7
        await upgrade(db, MIGRATIONS)

        async with db.session() as session:
            keys = {
                k.referral_id: keyring.unwrap(k.wrapped, k.referral_id)
                for k in (await session.scalars(sa.select(m.ReferralKey))).all()
            }
            answers = {
                r.owner: r.response_enc
                for r in (await session.scalars(sa.select(m.IdempotencyRecord))).all()
            }
        assert set(keys) == {live}  # an erased referral has nothing left to seal
        migrated = await sealed_values(db, str(live))
        assert {s.where for s in migrated} == {s.where for s in backup}
        plain = {s.where: keys[live].open_bytes(_blob(s.value), s.context) for s in migrated}
        assert plain["referrals.person_enc"] == '{"first_name":"Aïcha"}'.encode()
        assert plain["referrals.referent_enc"] == b"Julie"
        assert plain["handoff.comment_enc"] == plain["event.comment_enc"] == b"Injoignable"
        assert plain["attachments.filename_enc"] == b"caf.pdf"
        assert plain["attachments.content"] == PDF
        assert plain["idempotency_keys.response_enc"] == b'{"ok":1}'
        # No value opens with the keyring alone any more; answers of no live referral are gone.
        assert not any(opens(s, list(keyring.keys.values())) for s in migrated)
        assert answers["erased"] is None
        assert answers["none"] is None
    finally:
        if backend == "postgresql":
            async with db.engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{db.schema}" CASCADE'))
        await db.dispose()


def _blob(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else base64.b64decode(value)


async def test_the_migration_gives_existing_referrals_a_key_sqlite(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    await _migrated("sqlite", tmp_path, tokens)


async def test_the_migration_gives_existing_referrals_a_key_postgresql(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    await require_postgres()
    await _migrated("postgresql", tmp_path, tokens)
