"""Queries behind the open-data views of the directory: exports and the HSDS read view.

Only public entries leave through these views: published structures, and published services
of published structures (members-only contacts are dropped by the mappings). Large reads walk
the table in keyset batches (``id`` order, UUIDv7) so nothing is ever held whole in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.models import Place, Service, ServiceSession, ServiceZone, Structure

BATCH = 1000
PUBLIC = "published"


def public_structures() -> sa.ColumnElement[bool]:
    return Structure.status == PUBLIC


def public_services() -> sa.ColumnElement[bool]:
    published_structures = sa.select(Structure.id).where(public_structures())
    return sa.and_(
        Service.status == PUBLIC, Service.structure_id.in_(published_structures.scalar_subquery())
    )


def public_places() -> sa.ColumnElement[bool]:
    published_structures = sa.select(Structure.id).where(public_structures())
    return sa.and_(
        Place.status == PUBLIC, Place.structure_id.in_(published_structures.scalar_subquery())
    )


def json_contains_any(session: AsyncSession, column: Any, values: Sequence[str]) -> Any:
    """``column`` (a JSON array of strings) holds at least one of ``values``."""
    if session.get_bind().dialect.name == "postgresql":
        return column.op("?|")(sa.literal(list(values), type_=postgresql.ARRAY(sa.Text())))
    each = sa.func.json_each(column).table_valued("value")
    return sa.exists(sa.select(1).select_from(each).where(each.c.value.in_(list(values))))


async def batches(
    session: AsyncSession,
    query: sa.Select[Any],
    id_column: Any,
    *,
    size: int = BATCH,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Rows of ``query`` in keyset batches ordered by ``id_column``."""
    last: uuid.UUID | None = None
    while True:
        page = query.order_by(id_column).limit(size)
        if last is not None:
            page = page.where(id_column > last)
        rows = [dict(r) for r in (await session.execute(page)).mappings()]
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        last = rows[-1]["id"]


def structure_rows() -> sa.Select[Any]:
    return sa.select(*Structure.__table__.c).where(public_structures())


def service_rows(*, with_structure: bool = True) -> sa.Select[Any]:
    columns: list[Any] = list(Service.__table__.c)
    if with_structure:
        columns += [
            Structure.source.label("structure_source"),
            Structure.source_id.label("structure_source_id"),
        ]
    query = sa.select(*columns).where(public_services())
    if with_structure:
        query = query.join(Structure, Structure.id == Service.structure_id)
    return query


async def zones_of(
    session: AsyncSession, service_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    zones: dict[uuid.UUID, list[str]] = {}
    if not service_ids:
        return zones
    query = (
        sa.select(ServiceZone.service_id, ServiceZone.zone)
        .where(ServiceZone.service_id.in_(list(service_ids)))
        .order_by(ServiceZone.service_id, ServiceZone.zone)
    )
    for service_id, zone in (await session.execute(query)).all():
        zones.setdefault(service_id, []).append(zone)
    return zones


async def sessions_of(
    session: AsyncSession, service_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    if not service_ids:
        return found
    query = (
        sa.select(*ServiceSession.__table__.c)
        .join(Place, Place.id == ServiceSession.place_id)
        .where(ServiceSession.service_id.in_(list(service_ids)), public_places())
        .order_by(ServiceSession.id)
    )
    for row in (await session.execute(query)).mappings():
        found.setdefault(row["service_id"], []).append(dict(row))
    return found
