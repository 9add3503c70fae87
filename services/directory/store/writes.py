"""Writes of the native directory API (structures, services, places).

Every write happens in the caller's transaction and, in that same transaction, appends a history
row (who, when, which fields changed: before → after) and an outbox event
(``structure.upserted|archived``, ``service.upserted|archived``, ``place.upserted|archived``;
payload ``{"id", "structure_id"}``) consumed by the search indexer and webhooks.

Optimistic concurrency: an update first bumps ``version`` with
``UPDATE … WHERE id = :id AND version = :expected``; zero rows means somebody else won (412).
The bump also takes the row's write lock, so the rest of the change cannot interleave with a
concurrent writer (PostgreSQL row lock; SQLite database write lock).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.directory import models as m
from services.directory.domain.positions import GEOCODE_VOID, voids_geocode
from services.directory.search.indexing import (
    refresh_search_index,
    refresh_structure_search_index,
)
from services.directory.store.base import ENTITY_TYPES, Entity, EntityT
from services.directory.store.reads import source_taken
from services.kernel.clock import utcnow
from services.kernel.db import new_uuid
from services.kernel.outbox import publish

# Columns never copied from client input.
_PROTECTED = {
    "id",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "verified_at",
    "reviewed_at",
    *GEOCODE_VOID,
}
# Changes that are not a review of the content (domain/freshness.py).
_NOT_A_REVIEW = frozenset({"status"})
# Sending these states the capacity, changed or not (capacity_confirmed_at).
_CAPACITY = frozenset({"capacity_status", "capacity_until"})


class VersionConflict(Exception):
    """The entry changed since the version the client holds (or it vanished)."""

    def __init__(self, current: int | None) -> None:
        super().__init__("stale version")
        self.current = current


class SourceConflict(Exception):
    """Another entry already has this (source, source_id)."""


@dataclass(frozen=True)
class Actor:
    """Who writes: subject (account or client id), and the structure it acts for."""

    subject: str | None
    structure_id: uuid.UUID | None = None


def _plain(value: Any) -> Any:
    """JSON-friendly copy of a value for history rows."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _record_history(
    session: AsyncSession,
    entity: Entity,
    action: str,
    actor: Actor,
    changes: dict[str, Any],
) -> None:
    session.add(
        m.HistoryEntry(
            id=new_uuid(),
            entity_type=ENTITY_TYPES[type(entity)],
            entity_id=entity.id,
            action=action,
            actor=actor.subject,
            actor_structure_id=actor.structure_id,
            at=utcnow(),
            changes=changes,
        )
    )


def _owner_id(entity: Entity) -> uuid.UUID:
    return entity.id if isinstance(entity, m.Structure) else entity.structure_id


def _event(session: AsyncSession, entity: Entity, archived: bool = False) -> None:
    kind = ENTITY_TYPES[type(entity)]
    topic = f"{kind}.{'archived' if archived else 'upserted'}"
    payload = {"id": str(entity.id), "structure_id": str(_owner_id(entity))}
    publish(session, m.OutboxEvent, topic, entity.id, payload)


async def _refresh_search(session: AsyncSession, entity: Entity) -> None:
    """Keep the database search tables in step, in this transaction."""
    await session.flush()
    if isinstance(entity, m.Structure):
        await refresh_structure_search_index(session, [entity.id])
    elif isinstance(entity, m.Service):
        await refresh_search_index(session, [entity.id])
    else:
        rows = await session.scalars(
            sa.select(m.ServiceSession.service_id).where(m.ServiceSession.place_id == entity.id)
        )
        service_ids = list(dict.fromkeys(rows))
        if service_ids:
            await refresh_search_index(session, service_ids)


def _sessions(values: Sequence[dict[str, Any]]) -> list[m.ServiceSession]:
    return [
        m.ServiceSession(
            id=new_uuid(),
            place_id=s["place_id"],
            opening_hours=s.get("opening_hours"),
            note=s.get("note"),
        )
        for s in values
    ]


def _assign(entity: Entity, values: dict[str, Any]) -> dict[str, Any]:
    """Apply plain column values; return {field: [before, after]} for what really changed."""
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name in _PROTECTED:
            continue
        if name == "eligibility_zones" and isinstance(entity, m.Service):
            existing = {z.zone: z for z in entity.zones}
            before = list(existing)
            after = list(dict.fromkeys(value))
            if sorted(before) != sorted(after):
                # Keep the rows of kept zones: re-inserting the same key before the delete
                # of the old row would break the primary key.
                entity.zones = [existing.get(z) or m.ServiceZone(zone=z) for z in after]
                changes[name] = [before, after]
            continue
        if name == "sessions" and isinstance(entity, m.Service):
            before_s = [
                {"place_id": str(s.place_id), "opening_hours": s.opening_hours, "note": s.note}
                for s in entity.sessions
            ]
            after_s = [_plain(s) for s in value]
            if before_s != after_s:
                entity.sessions = _sessions(value)
                changes[name] = [before_s, after_s]
            continue
        before_value = getattr(entity, name)
        if before_value != value:
            setattr(entity, name, value)
            changes[name] = [_plain(before_value), _plain(value)]
    return changes


async def create(
    session: AsyncSession, model: type[EntityT], values: dict[str, Any], actor: Actor
) -> EntityT:
    if await source_taken(session, model, values.get("source"), values.get("source_id")):
        raise SourceConflict
    now = utcnow()
    entity = model(
        id=new_uuid(),
        created_at=now,
        updated_at=now,
        created_by=actor.subject,
        updated_by=actor.subject,
        reviewed_at=now,
        version=1,
    )
    if isinstance(entity, m.Service):
        entity.zones = []
        entity.sessions = []
        entity.capacity_confirmed_at = now
    changes = _assign(entity, values)
    session.add(entity)
    _record_history(session, entity, "create", actor, changes)
    _event(session, entity, archived=entity.status == "archived")
    await session.flush()
    await _refresh_search(session, entity)
    return entity


async def _bump(
    session: AsyncSession, entity: Entity, expected: int | None, actor: Actor, now: datetime
) -> None:
    model = type(entity)
    version = entity.version if expected is None else expected
    result = await session.execute(
        sa.update(model)
        .where(model.id == entity.id, model.version == version)
        .values(version=version + 1, updated_at=now, updated_by=actor.subject)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        current = await session.scalar(sa.select(model.version).where(model.id == entity.id))
        raise VersionConflict(current)
    # Keep the loaded object in step with the row without another UPDATE for these columns.
    set_committed_value(entity, "version", version + 1)
    set_committed_value(entity, "updated_at", now)
    set_committed_value(entity, "updated_by", actor.subject)


async def update(
    session: AsyncSession,
    entity: EntityT,
    values: dict[str, Any],
    actor: Actor,
    *,
    expected_version: int | None,
    action: str = "update",
) -> EntityT:
    """Apply ``values``; a no-op change still bumps nothing and records nothing."""
    if expected_version is not None and entity.version != expected_version:
        raise VersionConflict(entity.version)
    now = utcnow()
    preview = {k: v for k, v in values.items() if k not in _PROTECTED}
    if isinstance(entity, m.Service) and not _CAPACITY.isdisjoint(preview):
        preview["capacity_confirmed_at"] = now
    if not _differs(entity, preview):
        return entity
    await _bump(session, entity, expected_version, actor, now)
    changes = _assign(entity, preview)
    if not changes.keys() <= _NOT_A_REVIEW:
        entity.reviewed_at = now
    if voids_geocode(changes):
        # Found for the former address: the geocoder's job looks the new one up.
        for name, value in GEOCODE_VOID.items():
            setattr(entity, name, value)
    _record_history(session, entity, action, actor, changes)
    archived = entity.status == "archived"
    _event(session, entity, archived=archived)
    await session.flush()
    await _refresh_search(session, entity)
    return entity


def _differs(entity: Entity, values: dict[str, Any]) -> bool:
    for name, value in values.items():
        if name == "eligibility_zones" and isinstance(entity, m.Service):
            if sorted(z.zone for z in entity.zones) != sorted(dict.fromkeys(value)):
                return True
        elif name == "sessions" and isinstance(entity, m.Service):
            current = [
                {"place_id": str(s.place_id), "opening_hours": s.opening_hours, "note": s.note}
                for s in entity.sessions
            ]
            if current != [_plain(s) for s in value]:
                return True
        elif getattr(entity, name) != value:
            return True
    return False


async def verify(
    session: AsyncSession, entity: EntityT, actor: Actor, *, expected_version: int | None
) -> EntityT:
    """The owner confirms the entry is still right: ``verified_at`` and ``reviewed_at`` = now (a
    new version)."""
    if expected_version is not None and entity.version != expected_version:
        raise VersionConflict(entity.version)
    now = utcnow()
    await _bump(session, entity, expected_version, actor, now)
    before = entity.verified_at
    entity.verified_at = entity.reviewed_at = now
    if isinstance(entity, m.Service):
        entity.capacity_confirmed_at = now
    _record_history(
        session, entity, "verify", actor, {"verified_at": [_plain(before), _plain(now)]}
    )
    _event(session, entity)
    await _refresh_search(session, entity)
    return entity


async def set_status(
    session: AsyncSession,
    entity: EntityT,
    status: str,
    action: str,
    actor: Actor,
    *,
    expected_version: int | None,
) -> EntityT:
    if entity.status == status:
        if expected_version is not None and entity.version != expected_version:
            raise VersionConflict(entity.version)
        return entity
    entity = await update(
        session, entity, {"status": status}, actor, expected_version=expected_version, action=action
    )
    if isinstance(entity, m.Structure) and status == "archived":
        await _archive_children(session, entity, actor)
    return entity


async def _archive_children(session: AsyncSession, structure: m.Structure, actor: Actor) -> None:
    """Archiving a structure archives its services and places (each with history and event)."""
    services = await session.scalars(
        sa.select(m.Service).where(
            m.Service.structure_id == structure.id, m.Service.status != "archived"
        )
    )
    for service in list(services):
        await update(
            session, service, {"status": "archived"}, actor, expected_version=None, action="archive"
        )
    places = await session.scalars(
        sa.select(m.Place).where(m.Place.structure_id == structure.id, m.Place.status != "archived")
    )
    for place in list(places):
        await update(
            session, place, {"status": "archived"}, actor, expected_version=None, action="archive"
        )
