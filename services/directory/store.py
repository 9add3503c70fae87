"""Queries and persistence of the native directory API (structures, services, places).

Every write happens in the caller's transaction and, in that same transaction, appends a history
row (who, when, which fields changed: before → after) and an outbox event
(``structure.upserted|archived``, ``service.upserted|archived``, ``place.upserted|archived``;
payload ``{"id", "structure_id"}``) consumed by the search indexer and webhooks.

Optimistic concurrency: an update first bumps ``version`` with
``UPDATE … WHERE id = :id AND version = :expected``; zero rows means somebody else won (412).
The bump also takes the row's write lock, so the rest of the change cannot interleave with a
concurrent writer (PostgreSQL row lock; SQLite database write lock).

Pagination is keyset: by ``id`` (UUIDv7, creation order — new rows land after the last page, so
browsing never duplicates nor skips) or, for synchronisation with ``updated_since``, by
``(updated_at, id)`` (a row changed during the walk shows up again at the end, which is what a
synchronising client needs).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.functions import aggregate_strings

from services.directory import models as m
from services.directory.search.indexing import (
    refresh_search_index,
    refresh_structure_search_index,
)
from services.kernel.db import UTCDateTime, new_uuid
from services.kernel.outbox import publish, utcnow
from services.kernel.reference import expand_thematiques, geography

Entity = m.Structure | m.Service | m.Place
EntityT = TypeVar("EntityT", m.Structure, m.Service, m.Place)

ENTITY_TYPES: dict[type[Any], str] = {
    m.Structure: "structure",
    m.Service: "service",
    m.Place: "place",
}

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
}
# Changes that are not a review of the content (domain/freshness.py).
_NOT_A_REVIEW = frozenset({"status"})


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


@dataclass(frozen=True)
class Reader:
    """Who reads, for visibility filters.

    ``moderator`` sees everything; ``structure_id`` (a member, or a client bound to it) also sees
    the drafts and suspended entries of that structure and of its sites (child structures).
    """

    moderator: bool = False
    structure_id: uuid.UUID | None = None


@dataclass
class ListQuery:
    limit: int = 50
    cursor: tuple[Any, ...] | None = None
    statuses: Sequence[str] = ("published",)
    structure_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    thematiques: Sequence[str] = ()
    commune: str | None = None
    updated_since: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def by_update(self) -> bool:
        return self.updated_since is not None


# --- reads -----------------------------------------------------------------------------------


async def get(session: AsyncSession, model: type[EntityT], entity_id: uuid.UUID) -> EntityT | None:
    return await session.get(model, entity_id)


async def service_with_parent(
    session: AsyncSession, service_id: uuid.UUID
) -> tuple[m.Service, uuid.UUID | None] | None:
    """A service with its zones and sessions, and its structure's parent, in one statement
    (instead of the row, two selectin loads and a lookup of the parent)."""
    stmt = (
        sa.select(m.Service, m.Structure.parent_id)
        .join(m.Structure, m.Structure.id == m.Service.structure_id)
        .where(m.Service.id == service_id)
        .options(joinedload(m.Service.zones), joinedload(m.Service.sessions))
    )
    row = (await session.execute(stmt)).unique().first()
    return None if row is None else (row[0], row[1])


# --- service views (reads of the native API: Core rows, no ORM objects) ------------------------

_SERVICES: sa.Table = m.Service.__table__  # type: ignore[assignment]
_STRUCTURES: sa.Table = m.Structure.__table__  # type: ignore[assignment]
_ZONES: sa.Table = m.ServiceZone.__table__  # type: ignore[assignment]
_SESSIONS: sa.Table = m.ServiceSession.__table__  # type: ignore[assignment]
_LINKS: sa.Table = m.LinkCheck.__table__  # type: ignore[assignment]
# Zones are codes (``commune:35238``, ``france``…): never a space.
ZONE_SEPARATOR = " "


def _service_view() -> sa.Select[Any]:
    """Every column of a service with, in the same row, what rendering it needs: its structure's
    parent (visibility), its zones (one aggregated text), and whether it has sessions or link
    checks (most have neither, so those are read only when they exist)."""
    zones = (
        sa.select(aggregate_strings(_ZONES.c.zone, ZONE_SEPARATOR))
        .where(_ZONES.c.service_id == _SERVICES.c.id)
        .scalar_subquery()
    )
    has_sessions = sa.exists().where(_SESSIONS.c.service_id == _SERVICES.c.id)
    has_links = sa.exists().where(_LINKS.c.entity_id == _SERVICES.c.id)
    return sa.select(
        *_SERVICES.c,
        _STRUCTURES.c.parent_id.label("structure_parent_id"),
        zones.label("zone_list"),
        has_sessions.label("has_sessions"),
        has_links.label("has_links"),
    ).join_from(_SERVICES, _STRUCTURES, _STRUCTURES.c.id == _SERVICES.c.structure_id)


# Built once: the statement of the hottest read (SQLAlchemy then finds its compiled form by
# cache key; constructing it per request cost more than executing it).
_SERVICE_BY_ID = _service_view().where(_SERVICES.c.id == sa.bindparam("service_id", type_=sa.Uuid))


def view_zones(view: sa.Row[Any]) -> list[str]:
    text: str | None = view.zone_list
    return sorted(text.split(ZONE_SEPARATOR)) if text else []


async def service_view(session: AsyncSession, service_id: uuid.UUID) -> sa.Row[Any] | None:
    """One service as a row of ``_service_view`` (one statement), or None."""
    result = await session.execute(_SERVICE_BY_ID, {"service_id": service_id})
    row: sa.Row[Any] | None = result.first()
    return row


async def sessions_of(
    session: AsyncSession, service_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[sa.Row[Any]]]:
    ids = set(service_ids)
    found: dict[uuid.UUID, list[sa.Row[Any]]] = {}
    if not ids:
        return found
    rows = await session.execute(
        sa.select(_SESSIONS).where(_SESSIONS.c.service_id.in_(ids)).order_by(_SESSIONS.c.id)
    )
    for row in rows:
        found.setdefault(row.service_id, []).append(row)
    return found


async def parents_of(
    session: AsyncSession, structure_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID | None]:
    ids = set(structure_ids)
    if not ids:
        return {}
    rows = await session.execute(
        sa.select(m.Structure.id, m.Structure.parent_id).where(m.Structure.id.in_(ids))
    )
    return {row.id: row.parent_id for row in rows}


def _owner_column(model: type[Entity]) -> Any:
    return m.Structure.id if model is m.Structure else model.structure_id  # type: ignore[union-attr]


_PUBLIC = ("published", "archived")


@dataclass(frozen=True)
class _Shape:
    """What a list statement looks like (which filters are present), not the values: statements
    are built once per shape, the values are bound at execution."""

    model: type[Any]
    view: bool
    dialect: str
    moderator: bool
    public: bool
    private: bool
    structure: bool
    parent: bool
    updated_since: bool
    thematiques: bool
    commune: bool
    by_update: bool
    cursor: bool


def _page_parameters(
    session: AsyncSession, model: type[Entity], query: ListQuery, reader: Reader, *, view: bool
) -> tuple[_Shape, dict[str, Any]]:
    params: dict[str, Any] = {"limit": query.limit + 1}
    statuses = list(query.statuses)
    # Published and archived entries are public; other statuses need an insider.
    public = [s for s in statuses if s in _PUBLIC]
    private = [s for s in statuses if s not in _PUBLIC]
    if reader.moderator:
        params["statuses"] = statuses
    else:
        params["public"] = public
        if private and reader.structure_id is not None:
            params["private"] = private
            params["reader_structure"] = reader.structure_id
    if query.structure_id is not None:
        params["owner"] = query.structure_id
    parent = query.parent_id is not None and model is m.Structure
    if parent:
        params["parent"] = query.parent_id
    if query.updated_since is not None:
        params["updated_since"] = query.updated_since
    thematiques = bool(query.thematiques) and model is m.Service
    if thematiques:
        params["thematiques"] = sorted(expand_thematiques(query.thematiques))
    if query.commune is not None:
        params["commune"] = query.commune
        if model is m.Service:
            params["zones"] = sorted(geography().zones_of(query.commune))
    if query.cursor is not None:
        if query.by_update:
            params["cursor_at"], params["cursor_id"] = query.cursor
        else:
            params["cursor_id"] = query.cursor[0]
    shape = _Shape(
        model=model,
        view=view,
        dialect=session.get_bind().dialect.name,
        moderator=reader.moderator,
        public=bool(public),
        private="private" in params,
        structure="owner" in params,
        parent=parent,
        updated_since="updated_since" in params,
        thematiques=thematiques,
        commune="commune" in params,
        by_update=query.by_update,
        cursor=query.cursor is not None,
    )
    return shape, params


def _visible(model: type[Entity], shape: _Shape) -> Any:
    if shape.moderator:
        return model.status.in_(sa.bindparam("statuses", expanding=True))
    clauses: list[Any] = []
    if shape.public:
        clauses.append(model.status.in_(sa.bindparam("public", expanding=True)))
    if shape.private:
        reader_structure = sa.bindparam("reader_structure", type_=sa.Uuid())
        # Never correlated: the statement may itself read ``structures`` (service views).
        own_sites = (
            sa.select(m.Structure.id)
            .where(
                sa.or_(
                    m.Structure.id == reader_structure, m.Structure.parent_id == reader_structure
                )
            )
            .correlate(None)
        )
        clauses.append(
            sa.and_(
                model.status.in_(sa.bindparam("private", expanding=True)),
                _owner_column(model).in_(own_sites.scalar_subquery()),
            )
        )
    if not clauses:
        return sa.false()
    return sa.or_(*clauses)


def _json_contains_any(dialect: str, column: Any, name: str) -> Any:
    """``column`` (a JSON array of strings) contains at least one of the values bound to
    ``name``."""
    if dialect == "postgresql":
        return column.op("?|")(sa.bindparam(name, type_=postgresql.ARRAY(sa.Text())))
    each = sa.func.json_each(column).table_valued("value")
    return sa.exists(
        sa.select(1).select_from(each).where(each.c.value.in_(sa.bindparam(name, expanding=True)))
    )


@lru_cache(maxsize=256)
def _page_statement(shape: _Shape) -> sa.Select[Any]:
    """The statement of one page of a list (one row more than the page, to know whether another
    follows); built once per shape (building it cost more than running it)."""
    model: type[Entity] = shape.model
    stmt = _service_view() if shape.view else sa.select(model)
    stmt = stmt.where(_visible(model, shape))
    if shape.structure:
        stmt = stmt.where(_owner_column(model) == sa.bindparam("owner", type_=sa.Uuid()))
    if shape.parent:
        stmt = stmt.where(m.Structure.parent_id == sa.bindparam("parent", type_=sa.Uuid()))
    if shape.updated_since:
        stmt = stmt.where(model.updated_at >= sa.bindparam("updated_since", type_=UTCDateTime()))
    if shape.thematiques:
        stmt = stmt.where(_json_contains_any(shape.dialect, m.Service.thematiques, "thematiques"))
    if shape.commune:
        commune = sa.bindparam("commune", type_=sa.String())
        if model is m.Service:
            # A correlated scalar subquery (one primary-key probe per candidate row), not
            # ``id IN (…)`` / EXISTS: inside the OR, PostgreSQL hashes those, i.e. reads every
            # zone row matching the commune's département, région and "france" on each request.
            covered = (
                sa.select(sa.true())
                .where(
                    m.ServiceZone.service_id == m.Service.id,
                    m.ServiceZone.zone.in_(sa.bindparam("zones", expanding=True)),
                )
                .limit(1)
                .scalar_subquery()
            )
            stmt = stmt.where(sa.or_(m.Service.commune_code == commune, covered))
        else:
            stmt = stmt.where(model.commune_code == commune)
    cursor_id = sa.bindparam("cursor_id", type_=sa.Uuid())
    if shape.by_update:
        if shape.cursor:
            cursor_at = sa.bindparam("cursor_at", type_=UTCDateTime())
            stmt = stmt.where(
                sa.tuple_(model.updated_at, model.id) > sa.tuple_(cursor_at, cursor_id)
            )
        stmt = stmt.order_by(model.updated_at, model.id)
    else:
        if shape.cursor:
            stmt = stmt.where(model.id > cursor_id)
        stmt = stmt.order_by(model.id)
    return stmt.limit(sa.bindparam("limit", type_=sa.Integer()))


async def list_entities(
    session: AsyncSession, model: type[EntityT], query: ListQuery, reader: Reader
) -> tuple[list[EntityT], tuple[Any, ...] | None]:
    """One page and the keyset of its last row when more rows follow."""
    shape, params = _page_parameters(session, model, query, reader, view=False)
    rows = await session.scalars(_page_statement(shape), params)
    return _page(list(rows.all()), query)


async def list_service_views(
    session: AsyncSession, query: ListQuery, reader: Reader
) -> tuple[list[sa.Row[Any]], tuple[Any, ...] | None]:
    """``list_entities`` for services, as rows of ``_service_view`` (one statement per page)."""
    shape, params = _page_parameters(session, m.Service, query, reader, view=True)
    rows = await session.execute(_page_statement(shape), params)
    return _page(list(rows.all()), query)


RowT = TypeVar("RowT")


def _page(rows: list[RowT], query: ListQuery) -> tuple[list[RowT], tuple[Any, ...] | None]:
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    last: Any = rows[-1]
    return rows, ((last.updated_at, last.id) if query.by_update else (last.id,))


async def history(
    session: AsyncSession, entity_id: uuid.UUID, *, limit: int, after: uuid.UUID | None
) -> tuple[list[m.HistoryEntry], uuid.UUID | None]:
    stmt = sa.select(m.HistoryEntry).where(m.HistoryEntry.entity_id == entity_id)
    if after is not None:
        stmt = stmt.where(m.HistoryEntry.id > after)
    rows = list((await session.scalars(stmt.order_by(m.HistoryEntry.id).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], rows[limit - 1].id


async def link_checks(
    session: AsyncSession, entity_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[m.LinkCheck]]:
    ids = set(entity_ids)
    found: dict[uuid.UUID, list[m.LinkCheck]] = {}
    if not ids:
        return found
    rows = await session.scalars(
        sa.select(m.LinkCheck).where(m.LinkCheck.entity_id.in_(ids)).order_by(m.LinkCheck.field)
    )
    for row in rows:
        found.setdefault(row.entity_id, []).append(row)
    return found


async def places_of(
    session: AsyncSession, place_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, m.Place]:
    ids = set(place_ids)
    if not ids:
        return {}
    rows = await session.scalars(sa.select(m.Place).where(m.Place.id.in_(ids)))
    return {p.id: p for p in rows}


async def source_taken(
    session: AsyncSession, model: type[Entity], source: str | None, source_id: str | None
) -> bool:
    if not source or not source_id:
        return False
    found = await session.scalar(
        sa.select(model.id).where(model.source == source, model.source_id == source_id).limit(1)
    )
    return found is not None


# --- writes ----------------------------------------------------------------------------------


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
    preview = {k: v for k, v in values.items() if k not in _PROTECTED}
    if not _differs(entity, preview):
        return entity
    now = utcnow()
    await _bump(session, entity, expected_version, actor, now)
    changes = _assign(entity, preview)
    if not changes.keys() <= _NOT_A_REVIEW:
        entity.reviewed_at = now
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
