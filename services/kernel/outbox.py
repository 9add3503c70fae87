"""Transactional outbox: events are rows written in the same transaction as the change.

Each service declares its own table with ``OutboxMixin`` on its own ``DeclarativeBase``;
``publish`` adds a row to the caller's session so the event commits or rolls back with the change.
Workers claim due rows (``claim``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on
SQLite), so one event is handled by one worker at a time on both engines; processed rows are
deleted after ``PROCESSED_RETENTION`` (``prune_job``): the outbox is a queue, not a record (the
referrals timeline and the directory history are).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.clock import utcnow
from services.kernel.db import JSONType, UTCDateTime, new_uuid


class OutboxMixin:
    """Columns of an outbox table: topic, aggregate key, JSON payload, delivery bookkeeping."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    topic: Mapped[str] = mapped_column(sa.String(100), index=True)
    aggregate_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)


OutboxT = TypeVar("OutboxT", bound=OutboxMixin)


def publish(
    session: AsyncSession,
    model: type[OutboxT],
    topic: str,
    aggregate_id: uuid.UUID | str,
    payload: dict[str, Any],
) -> OutboxT:
    event = model(topic=topic, aggregate_id=str(aggregate_id), payload=payload)  # type: ignore[call-arg]
    session.add(event)
    return event


def outbox_row(
    topic: str, aggregate_id: uuid.UUID | str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Every column of one outbox event, for set-based inserts (Core ``insert().values(rows)``)
    that skip the ORM unit of work on hot paths; same defaults as ``publish``."""
    now = utcnow()
    return {
        "id": new_uuid(),
        "topic": topic,
        "aggregate_id": str(aggregate_id),
        "payload": payload,
        "created_at": now,
        "available_at": now,
        "processed_at": None,
        "attempts": 0,
        "last_error": None,
    }


async def claim(
    session: AsyncSession, query: sa.Select[*tuple[Any, ...]], model: type[Any]
) -> list[Any]:
    """The rows ``query`` selects (rows of ``model``, possibly joined to others), claimed by this
    transaction so that no concurrent claimer gets them too: locked with ``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL. SQLite has no row locks (and pysqlite begins a transaction only at
    the first write), so there the rows are first touched by one ``UPDATE … RETURNING``: it takes
    the database's write lock and reads the latest committed state, so a concurrent claimer waits
    for this transaction to end, then no longer finds what it marked (processed, leased). The
    claimer must mark its rows before committing."""
    if session.get_bind().dialect.name == "postgresql":
        return list(
            (await session.execute(query.with_for_update(of=model, skip_locked=True))).all()
        )
    table = model.__table__
    touched = (
        await session.execute(
            sa.update(table)
            .where(table.c.id.in_(query.with_only_columns(model.id).scalar_subquery()))
            .values(id=table.c.id)
            .returning(table.c.id)
        )
    ).scalars()
    return list((await session.execute(query.where(model.id.in_(list(touched))))).all())


async def claim_batch(
    session: AsyncSession,
    model: type[OutboxT],
    *,
    topics: list[str] | None = None,
    limit: int = 100,
) -> list[OutboxT]:
    """Due, unprocessed events in creation order, claimed for this transaction (``claim``)."""
    query = (
        sa.select(model)
        .where(model.processed_at.is_(None), model.available_at <= utcnow())
        .order_by(model.id)
        .limit(limit)
    )
    if topics:
        query = query.where(model.topic.in_(topics))
    return [row[0] for row in await claim(session, query, model)]


# Processed events are kept this long (to inspect what was sent), then deleted in batches.
PROCESSED_RETENTION = timedelta(days=7)
PRUNE_BATCH = 5000
PRUNE_MAX_BATCHES = 20  # per run: 100,000 rows an hour at most, one short transaction each


async def prune_processed(session: AsyncSession, model: type[OutboxT], now: datetime) -> int:
    """Delete one batch of events processed before ``now - PROCESSED_RETENTION``; returns how
    many went (pending events stay, however old)."""
    batch = (
        sa.select(model.id)
        .where(model.processed_at < now - PROCESSED_RETENTION)
        .limit(PRUNE_BATCH)
        .scalar_subquery()
    )
    result = await session.execute(sa.delete(model).where(model.id.in_(batch)))
    return int(getattr(result, "rowcount", 0) or 0)


def prune_job(model: type[OutboxT]) -> Callable[[Any], Awaitable[int]]:
    """A worker job (``Job.run``) pruning a service's outbox, a transaction per batch."""

    async def prune(app: Any) -> int:
        pruned = 0
        for _ in range(PRUNE_MAX_BATCHES):
            async with app.state.db.session() as session:
                count = await prune_processed(session, model, utcnow())
            pruned += count
            if count < PRUNE_BATCH:
                break
        return pruned

    return prune
