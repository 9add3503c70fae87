"""Key rotation: rewrap, under the current keyring key, every data key (and service secret)
wrapped with another one. Personal values are sealed with their referral's data key, which does
not change: they stay as they are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from services.kernel.db import Database
from services.referrals import models as m
from services.referrals.crypto import Keyring, data_key_context
from services.referrals.webhooks.delivery import previous_secret_context, secret_context

BATCH = 200

# (model, column, context of a row) for every value the keyring seals.
TEXT_COLUMNS: list[tuple[type[Any], str, Callable[[Any], str]]] = [
    (m.ReferralKey, "wrapped", lambda r: data_key_context(r.referral_id)),
    # Webhook signing secrets.
    (m.WebhookSubscription, "secret_enc", lambda r: secret_context(r.id)),
    (m.WebhookSubscription, "previous_secret_enc", lambda r: previous_secret_context(r.id)),
]


def _stale(column: Any, current: str) -> Any:
    return sa.and_(column.is_not(None), sa.not_(column.startswith(f"{current}:")))


async def rotate(db: Database, keyring: Keyring) -> dict[str, int]:
    """Rewrap in batches (one transaction each); safe to interrupt and run again."""
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
                    setattr(row, name, keyring.reseal(getattr(row, name), context(row)))
            done += len(rows)
            if len(rows) < BATCH:
                break
        counts[f"{model.__tablename__}.{name}"] = done
    return counts
