"""Key rotation: re-encrypt, under the current key, every value sealed with another one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from services.kernel.db import Database
from services.referrals import models as m
from services.referrals.crypto import Keyring
from services.referrals.service.common import (
    attachment_context,
    evaluation_context,
    event_comment_context,
    handoff_comment_context,
    person_context,
    purpose_context,
    referent_context,
    summary_context,
)
from services.referrals.webhooks.delivery import previous_secret_context, secret_context

BATCH = 200

# (model, column, context of a row) for every encrypted text column.
TEXT_COLUMNS: list[tuple[type[Any], str, Callable[[Any], str]]] = [
    (m.Referral, "person_enc", lambda r: person_context(r.id)),
    (m.Referral, "summary_enc", lambda r: summary_context(r.id)),
    (m.Referral, "evaluation_comment_enc", lambda r: evaluation_context(r.id)),
    (m.Referral, "consent_purpose_enc", lambda r: purpose_context(r.id)),
    (m.Referral, "referent_enc", lambda r: referent_context(r.id)),
    (m.Handoff, "comment_enc", lambda r: handoff_comment_context(r.id)),
    (m.TimelineEvent, "comment_enc", lambda r: event_comment_context(r.id)),
    (m.Attachment, "filename_enc", lambda r: attachment_context(r.id)),
    (m.IdempotencyRecord, "response_enc", lambda r: f"idempotency:{r.owner}:{r.key}"),
    # Webhook signing secrets.
    (m.WebhookSubscription, "secret_enc", lambda r: secret_context(r.id)),
    (m.WebhookSubscription, "previous_secret_enc", lambda r: previous_secret_context(r.id)),
]


def _stale(column: Any, current: str) -> Any:
    return sa.and_(column.is_not(None), sa.not_(column.startswith(f"{current}:")))


async def rotate(db: Database, keyring: Keyring) -> dict[str, int]:
    """Re-encrypt in batches (one transaction each); safe to interrupt and run again."""
    counts: dict[str, int] = {}
    for model, name, context in TEXT_COLUMNS:
        column = getattr(model, name)
        done = 0
        while True:
            async with db.session() as session:
                rows = list(
                    (
                        await session.scalars(
                            sa.select(model).where(_stale(column, keyring.current)).limit(BATCH)
                        )
                    ).all()
                )
                for row in rows:
                    ctx = context(row)
                    setattr(row, name, keyring.seal(keyring.open(getattr(row, name), ctx), ctx))
            done += len(rows)
            if len(rows) < BATCH:
                break
        counts[f"{model.__tablename__}.{name}"] = done
    done = 0
    while True:
        async with db.session() as session:
            attachments = list(
                (
                    await session.scalars(
                        sa.select(m.Attachment)
                        .where(
                            m.Attachment.content.is_not(None),
                            m.Attachment.key_id != keyring.current,
                        )
                        .limit(BATCH)
                    )
                ).all()
            )
            for attachment in attachments:
                assert attachment.content is not None
                assert attachment.key_id is not None
                ctx = attachment_context(attachment.id)
                plain = keyring.open_bytes(attachment.key_id, attachment.content, ctx)
                attachment.key_id, attachment.content = keyring.seal_bytes(plain, ctx)
        done += len(attachments)
        if len(attachments) < BATCH:
            break
    counts["attachments.content"] = done
    return counts
