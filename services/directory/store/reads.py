"""Reads of single entries and of what renders them (Core rows where it is hot, no ORM)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.functions import aggregate_strings

from services.directory import models as m
from services.directory.store.base import (
    LINKS,
    SERVICES,
    SESSIONS,
    STRUCTURES,
    ZONES,
    Entity,
    EntityT,
)


async def get(session: AsyncSession, model: type[EntityT], entity_id: uuid.UUID) -> EntityT | None:
    return await session.get(model, entity_id)


class ServiceStructure(NamedTuple):
    """What a service's rendering needs of its structure: its parent (visibility) and its
    position (a service without coordinates of its own is at its structure's)."""

    parent_id: uuid.UUID | None
    latitude: float | None
    longitude: float | None
    commune_code: str | None
    geocoded_latitude: float | None
    geocoded_longitude: float | None

    @classmethod
    def of(cls, structure: m.Structure) -> ServiceStructure:
        return cls(
            structure.parent_id,
            structure.latitude,
            structure.longitude,
            structure.commune_code,
            structure.geocoded_latitude,
            structure.geocoded_longitude,
        )


async def service_with_parent(
    session: AsyncSession, service_id: uuid.UUID
) -> tuple[m.Service, ServiceStructure] | None:
    """A service with its zones and sessions, and what it needs of its structure, in one
    statement (instead of the row, two selectin loads and a lookup of the structure)."""
    stmt = (
        sa.select(
            m.Service,
            m.Structure.parent_id,
            m.Structure.latitude,
            m.Structure.longitude,
            m.Structure.commune_code,
            m.Structure.geocoded_latitude,
            m.Structure.geocoded_longitude,
        )
        .join(m.Structure, m.Structure.id == m.Service.structure_id)
        .where(m.Service.id == service_id)
        .options(joinedload(m.Service.zones), joinedload(m.Service.sessions))
    )
    row = (await session.execute(stmt)).unique().first()
    return None if row is None else (row[0], ServiceStructure(*row[1:]))


# --- service views (reads of the native API: Core rows, no ORM objects) ------------------------

# Zones are codes (``commune:35238``, ``france``…): never a space.
ZONE_SEPARATOR = " "


def service_view_statement() -> sa.Select[Any]:
    """Every column of a service with, in the same row, what rendering it needs: its structure's
    parent (visibility) and position (``structure_latitude``, ``structure_longitude``,
    ``structure_commune_code``, ``structure_geocoded_latitude``,
    ``structure_geocoded_longitude``: the service's when it has none of its own), its zones (one
    aggregated text), and whether it has sessions or link checks (most have neither, so those
    are read only when they exist)."""
    # The separator as SQL text: a string would be a parameter rendered into the statement at
    # every execution (SQLAlchemy's aggregate_strings), on the hottest read.
    separator: sa.ColumnClause[str] = sa.literal_column(f"'{ZONE_SEPARATOR}'")
    zones = (
        sa.select(aggregate_strings(ZONES.c.zone, separator))  # type: ignore[arg-type]
        .where(ZONES.c.service_id == SERVICES.c.id)
        .scalar_subquery()
    )
    has_sessions = sa.exists().where(SESSIONS.c.service_id == SERVICES.c.id)
    has_links = sa.exists().where(LINKS.c.entity_id == SERVICES.c.id)
    return sa.select(
        *SERVICES.c,
        STRUCTURES.c.parent_id.label("structure_parent_id"),
        STRUCTURES.c.latitude.label("structure_latitude"),
        STRUCTURES.c.longitude.label("structure_longitude"),
        STRUCTURES.c.commune_code.label("structure_commune_code"),
        STRUCTURES.c.geocoded_latitude.label("structure_geocoded_latitude"),
        STRUCTURES.c.geocoded_longitude.label("structure_geocoded_longitude"),
        zones.label("zone_list"),
        has_sessions.label("has_sessions"),
        has_links.label("has_links"),
    ).join_from(SERVICES, STRUCTURES, STRUCTURES.c.id == SERVICES.c.structure_id)


# Built once: the statement of the hottest read (SQLAlchemy then finds its compiled form by
# cache key; constructing it per request cost more than executing it).
_SERVICE_BY_ID = service_view_statement().where(
    SERVICES.c.id == sa.bindparam("service_id", type_=sa.Uuid)
)


def view_zones(view: sa.Row[Any]) -> list[str]:
    text: str | None = view.zone_list
    return sorted(text.split(ZONE_SEPARATOR)) if text else []


async def service_view(session: AsyncSession, service_id: uuid.UUID) -> sa.Row[Any] | None:
    """One service as a row of ``service_view_statement`` (one statement), or None."""
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
        sa.select(SESSIONS).where(SESSIONS.c.service_id.in_(ids)).order_by(SESSIONS.c.id)
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
