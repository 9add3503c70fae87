"""The events feed: timeline events in commit order, shaped without personal data.

Commit order, not id order. Event ``position`` comes from an identity column, so a transaction
that took position 10 may commit after another one that took 11. Reading ``position > cursor``
would then skip 10 for good. Each event row also keeps ``txid`` (``pg_current_xact_id()`` of the
transaction that wrote it). The feed orders by ``(txid, position)`` and only shows rows with
``txid`` below ``pg_snapshot_xmin(pg_current_snapshot())``. Every transaction with a smaller id
has then finished, so no event can appear later below the cursor. An event shows up as soon as
every transaction older than the one that wrote it has ended. A long transaction holds the feed
back; it never makes it skip an event.

SQLite allows one writer at a time, and a write transaction holds the lock until it commits, so
positions are already in commit order there (``txid`` stays NULL and counts as 0).

Payloads carry ids, states, reason codes and structures, never the person's data or free-text
comments. Those stay behind the referral API, which applies the consent rules and logs each read.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.pagination import decode_cursor, encode_cursor
from services.referrals import models as m

EVENT_TYPES: tuple[str, ...] = (
    "referral.created",
    "referral.reoriented",
    "referral.referent_changed",
    "referral.closed",
    "referral.erased",
    "consent.withdrawn",
    "attachment.added",
    "handoff.sent",
    "handoff.acknowledged",
    "handoff.accepted",
    "handoff.declined",
    "handoff.taken_over",
    "handoff.cancelled",
    "handoff.expired",
    "handoff.relayed",
    "handoff.closed",
    "handoff.reminder",
)

# Keys of an event's ``data`` that are safe to publish (ids and dates, no free text).
SAFE_DATA_KEYS = frozenset({"respond_by", "attachment_id", "outcome"})


class EventData(msgspec.Struct, kw_only=True):
    """What changed: ids, states and a reason code (never personal data)."""

    referral_id: uuid.UUID
    handoff_id: uuid.UUID | None = None
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    actor_kind: str
    actor_structure_id: uuid.UUID | None = None
    structures: list[uuid.UUID]
    details: dict[str, str] = msgspec.field(default_factory=dict)


class EventMessage(msgspec.Struct, kw_only=True):
    """One referral event, as the feed lists it and as webhooks deliver it."""

    id: uuid.UUID
    type: str
    timestamp: datetime
    data: EventData


class FeedItem(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    type: str
    timestamp: datetime
    cursor: str
    data: EventData


class FeedPage(msgspec.Struct, kw_only=True):
    items: list[FeedItem]
    next_cursor: str | None
    next: str | None = None


def event_data(row: m.TimelineEvent) -> EventData:
    details = {k: str(v) for k, v in (row.data or {}).items() if k in SAFE_DATA_KEYS}
    return EventData(
        referral_id=row.referral_id,
        handoff_id=row.handoff_id,
        from_state=row.from_state,
        to_state=row.to_state,
        reason=row.reason,
        actor_kind=row.actor_kind,
        actor_structure_id=row.actor_structure_id,
        structures=[uuid.UUID(s) for s in row.structures],
        details=details,
    )


def event_message(row: m.TimelineEvent) -> EventMessage:
    return EventMessage(id=row.id, type=row.type, timestamp=row.occurred_at, data=event_data(row))


def cursor_of(row: m.TimelineEvent) -> str:
    return encode_cursor([row.txid or 0, row.position])


def parse_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return (0, 0)
    txid, position = decode_cursor(cursor, [int, int])
    return int(txid), int(position)


def visible_to(session: AsyncSession, structure_id: uuid.UUID) -> Any:
    """SQL condition: the event lists ``structure_id`` among the structures that may see it."""
    sid = str(structure_id)
    if _is_postgres(session):
        return sa.cast(m.TimelineEvent.structures, postgresql.JSONB).contains([sid])
    each = sa.func.json_each(m.TimelineEvent.structures).table_valued("value")
    return sa.exists(sa.select(sa.literal(1)).select_from(each).where(each.c.value == sid))


def committed_order(session: AsyncSession, query: Any, after: tuple[int, int]) -> Any:
    """Restrict ``query`` over events to those after ``after`` that no running transaction can
    precede, ordered by commit order."""
    txid = sa.func.coalesce(m.TimelineEvent.txid, 0)
    query = query.where(sa.tuple_(txid, m.TimelineEvent.position) > sa.tuple_(*after))
    if _is_postgres(session):
        horizon = sa.cast(
            sa.cast(sa.func.pg_snapshot_xmin(sa.func.pg_current_snapshot()), sa.Text),
            sa.BigInteger,
        )
        query = query.where(m.TimelineEvent.txid < horizon)
    return query.order_by(txid, m.TimelineEvent.position)


async def read_feed(
    session: AsyncSession,
    structure_id: uuid.UUID,
    *,
    after: tuple[int, int],
    limit: int,
    types: list[str] | None = None,
) -> tuple[list[FeedItem], str | None]:
    """Events visible to ``structure_id`` after the cursor, in commit order.

    Returns the page and the cursor to resume from. It is set even when the page is empty, so a
    poller keeps its place.
    """
    query = sa.select(m.TimelineEvent).where(visible_to(session, structure_id))
    if types:
        query = query.where(m.TimelineEvent.type.in_(types))
    rows = list((await session.scalars(committed_order(session, query, after).limit(limit))).all())
    items = [
        FeedItem(
            id=r.id,
            type=r.type,
            timestamp=r.occurred_at,
            cursor=cursor_of(r),
            data=event_data(r),
        )
        for r in rows
    ]
    resume = items[-1].cursor if items else encode_cursor(list(after))
    return items, resume


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"
