"""The events feed: timeline events in commit order, shaped without personal data.

Commit order, not id order. Event ``position`` comes from an identity column, so a transaction
that took position 10 may commit after another one that took 11. Reading ``position > cursor``
would then skip 10 for good. Each event row also keeps ``txid`` (``pg_current_xact_id()`` of the
transaction that wrote it). The feed orders by ``(txid, position)`` and shows only rows whose
``txid`` is below a horizon: no transaction of this service with a smaller id may still be
running. No event can then appear later below the cursor.

The horizon is the smallest id among this service's transactions still running. They are found
by intersecting the snapshot's in-progress ids (``pg_snapshot_xip``) with the ``backend_xid`` of
sessions named after this service's schema (``application_name``, set by the kernel). The
snapshot's ``xmax`` is the bound when none is running. The snapshot is taken first, so a
transaction is either seen in both, or finished, or newer than ``xmax``. A plain
``pg_snapshot_xmin`` would also work, but a long transaction anywhere on the cluster (a
directory import) would then hold the feed back. Here only this service's own transactions can,
and they are short.

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
    "referral.part_closed",
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


XID_WRAP = 1 << 32


async def horizon(session: AsyncSession) -> int | None:
    """PostgreSQL: every transaction of this service with a smaller id has finished (see the
    module docstring). None on SQLite, where positions are already in commit order."""
    if not _is_postgres(session):
        return None
    xmax, running = (
        await session.execute(
            sa.text(
                "SELECT pg_snapshot_xmax(s)::text::bigint,"
                " ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x)"
                " FROM (SELECT pg_current_snapshot() AS s) AS snap"
            )
        )
    ).one()
    if not running:
        return int(xmax)
    await session.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
    ours = set(
        (
            await session.scalars(
                sa.text(
                    # application_name = services.kernel.db.application_name(schema)
                    "SELECT backend_xid::text::bigint FROM pg_stat_activity"
                    " WHERE application_name = left('relais-' || current_schema(), 63)"
                    " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
                )
            )
        ).all()
    )
    mine = [int(x) for x in running if int(x) % XID_WRAP in ours]
    return min([int(xmax), *mine])


def committed_order(query: Any, after: tuple[int, int], limit: int | None) -> Any:
    """Events after ``after`` in commit order, below ``limit`` (the horizon) when given."""
    txid = sa.func.coalesce(m.TimelineEvent.txid, 0)
    query = query.where(sa.tuple_(txid, m.TimelineEvent.position) > sa.tuple_(*after))
    if limit is not None:
        query = query.where(m.TimelineEvent.txid < limit)
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
    below = await horizon(session)
    ordered = committed_order(query, after, below).limit(limit)
    rows = list((await session.scalars(ordered)).all())
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
