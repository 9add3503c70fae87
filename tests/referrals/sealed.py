"""What a backup holds of a referral's sealed values, and whether anything left in the database
or the keyring still opens them (the attacker's side of crypto-shredding)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.kernel.db import Database
from services.referrals import models as m
from services.referrals.crypto import Keyring

NONCE = 12
REFERRAL_FIELDS = {
    "person_enc": "person",
    "summary_enc": "summary",
    "evaluation_comment_enc": "evaluation",
    "consent_purpose_enc": "purpose",
    "referent_enc": "referent",
    "person_feedback_comment_enc": "feedback",
}
# What a referral row held before the other side's closing had a column of its own.
LEGACY_REFERRAL_FIELDS = dict(REFERRAL_FIELDS)
REFERRAL_FIELDS["second_evaluation_comment_enc"] = "second-evaluation"


@dataclass(frozen=True)
class Sealed:
    where: str  # table.column
    context: str  # its associated data (given to the attacker: it is no secret)
    value: str | bytes


async def sealed_values(
    db: Database, referral_id: str, fields: dict[str, str] = REFERRAL_FIELDS
) -> list[Sealed]:
    """Every sealed value tied to the referral, as stored (a backup taken now); ``fields``: the
    referral's sealed columns at the schema's revision."""
    rid = uuid.UUID(referral_id)
    found: list[Sealed] = []
    async with db.session() as session:
        table = m.Referral.__table__
        referral = (
            await session.execute(
                sa.select(*(table.c[name] for name in fields)).where(table.c.id == rid)
            )
        ).one_or_none()
        assert referral is not None
        for name, place in fields.items():
            value = getattr(referral, name)
            if value is not None:
                found.append(Sealed(f"referrals.{name}", f"referral:{rid}:{place}", value))
        for model, kind in ((m.Handoff, "handoff"), (m.TimelineEvent, "event")):
            rows = await session.scalars(
                sa.select(model).where(model.referral_id == rid, model.comment_enc.is_not(None))  # type: ignore[attr-defined]
            )
            for row in rows:
                found.append(
                    Sealed(f"{kind}.comment_enc", f"{kind}:{row.id}:comment", row.comment_enc)
                )
        for attachment in await session.scalars(
            sa.select(m.Attachment).where(m.Attachment.referral_id == rid)
        ):
            context = f"attachment:{attachment.id}"
            if attachment.filename_enc is not None:
                found.append(Sealed("attachments.filename_enc", context, attachment.filename_enc))
            if attachment.content is not None:
                found.append(Sealed("attachments.content", context, attachment.content))
        for record in await session.scalars(
            sa.select(m.IdempotencyRecord).where(m.IdempotencyRecord.referral_id == rid)
        ):
            if record.response_enc is not None:
                context = f"idempotency:{record.owner}:{record.key}"
                found.append(Sealed("idempotency_keys.response_enc", context, record.response_enc))
    return found


async def keys_left(db: Database, keyring: Keyring) -> list[bytes]:
    """Every key material one can get at: the keyring's keys, and every data key the database
    still holds (each unwrapped with the keyring)."""
    keys = list(keyring.keys.values())
    async with db.session() as session:
        for row in await session.scalars(sa.select(m.ReferralKey)):
            keys.append(keyring.unwrap(row.wrapped, row.referral_id).material)
    return keys


def opens(sealed: Sealed, keys: list[bytes]) -> bool:
    """Whether any of ``keys`` opens the value (whatever its layout: ``kid:base64``, base64 or
    raw bytes)."""
    if isinstance(sealed.value, bytes):
        blob = sealed.value
    else:
        blob = base64.b64decode(sealed.value.rpartition(":")[2])
    for key in keys:
        try:
            AESGCM(key).decrypt(blob[:NONCE], blob[NONCE:], sealed.context.encode())
        except InvalidTag:
            continue
        return True
    return False


async def readable(db: Database, keyring: Keyring, backup: list[Sealed]) -> list[str]:
    """Where the backup's values still open with what is left."""
    keys = await keys_left(db, keyring)
    return [s.where for s in backup if opens(s, keys)]
