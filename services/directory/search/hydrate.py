"""The page's entries, in the backend's order, read from the directory's own tables (a search
index answers with ids and scores only), with the matched words highlighted."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.domain.positions import entry_position, remote_only, service_row_position
from services.directory.models import Service, Structure
from services.directory.schemas import position_of
from services.directory.search import tables
from services.directory.search.analysis import highlight
from services.directory.search.backend import SearchRequest, SearchResult
from services.directory.search.schemas import Highlights, ServiceHit, StructureHit

SNIPPET_CHARS = 240

# The page's rows, by id: Core statements built once (a search runs one per page; building and
# running them through the ORM cost more than PostgreSQL takes to answer).
_SERVICE: sa.Table = Service.__table__  # type: ignore[assignment]
_STRUCTURE: sa.Table = Structure.__table__  # type: ignore[assignment]
_IDS: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)
_SERVICES_BY_ID = (
    sa.select(
        _SERVICE.c.id,
        _SERVICE.c.structure_id,
        _STRUCTURE.c.name.label("structure_name"),
        _SERVICE.c.name,
        _SERVICE.c.description,
        _SERVICE.c.type,
        _SERVICE.c.thematiques,
        _SERVICE.c.publics,
        _SERVICE.c.fees,
        _SERVICE.c.reception_modes,
        _SERVICE.c.appointment_required,
        _SERVICE.c.capacity_status,
        _SERVICE.c.accepts_referrals,
        _SERVICE.c.status,
        sa.func.coalesce(_SERVICE.c.commune_code, _STRUCTURE.c.commune_code).label("commune_code"),
        sa.func.coalesce(_SERVICE.c.commune, _STRUCTURE.c.commune).label("commune"),
        _SERVICE.c.commune_code.label("own_commune_code"),
        _SERVICE.c.latitude,
        _SERVICE.c.longitude,
        _SERVICE.c.geocoded_latitude,
        _SERVICE.c.geocoded_longitude,
        _STRUCTURE.c.commune_code.label("structure_commune_code"),
        _STRUCTURE.c.latitude.label("structure_latitude"),
        _STRUCTURE.c.longitude.label("structure_longitude"),
        _STRUCTURE.c.geocoded_latitude.label("structure_geocoded_latitude"),
        _STRUCTURE.c.geocoded_longitude.label("structure_geocoded_longitude"),
        _SERVICE.c.updated_at,
        _SERVICE.c.verified_at,
        _SERVICE.c.reviewed_at,
    )
    .join_from(_SERVICE, _STRUCTURE, _STRUCTURE.c.id == _SERVICE.c.structure_id)
    .where(_SERVICE.c.id.in_(_IDS))
)
_STRUCTURES_BY_ID = sa.select(
    _STRUCTURE.c.id,
    _STRUCTURE.c.name,
    _STRUCTURE.c.typology,
    _STRUCTURE.c.networks,
    _STRUCTURE.c.description,
    _STRUCTURE.c.accepts_referrals,
    _STRUCTURE.c.status,
    _STRUCTURE.c.commune_code,
    _STRUCTURE.c.commune,
    _STRUCTURE.c.latitude,
    _STRUCTURE.c.longitude,
    _STRUCTURE.c.geocoded_latitude,
    _STRUCTURE.c.geocoded_longitude,
    _STRUCTURE.c.updated_at,
    _STRUCTURE.c.verified_at,
    _STRUCTURE.c.reviewed_at,
).where(_STRUCTURE.c.id.in_(_IDS))
_STRUCTURE_THEMATIQUES = sa.select(
    tables.documents.c.entity_id, tables.documents.c.thematiques
).where(tables.documents.c.kind == "structure", tables.documents.c.entity_id.in_(_IDS))


async def hydrate(
    session: AsyncSession, request: SearchRequest, result: SearchResult, *, with_highlights: bool
) -> list[Any]:
    ids = [hit.entity_id for hit in result.hits]
    if not ids:
        return []
    stems, prefixes = request.query.highlight_terms()
    marks = with_highlights and not request.query.empty

    def highlights(name: str, description: str | None) -> Highlights | None:
        if not marks:
            return None
        marked_name, _ = highlight(name, stems, prefixes)
        marked_description, _ = highlight(description, stems, prefixes, snippet=SNIPPET_CHARS)
        return Highlights(name=marked_name, description=marked_description)

    def stale(reviewed_at: datetime | None) -> bool:
        return reviewed_at is None or reviewed_at < request.stale_before

    if request.kind == "service":
        rows = {row.id: row for row in (await session.execute(_SERVICES_BY_ID, {"ids": ids})).all()}
        items: list[Any] = []
        for hit in result.hits:
            row = rows.get(hit.entity_id)
            if row is None:  # deleted since the index answered
                continue
            located = service_row_position(
                row._mapping.__getitem__, commune_column="own_commune_code"
            )
            items.append(
                ServiceHit(
                    id=row.id,
                    structure_id=row.structure_id,
                    structure_name=row.structure_name,
                    name=row.name,
                    description=row.description or "",
                    type=row.type,
                    thematiques=list(row.thematiques or []),
                    publics=list(row.publics or []),
                    fees=row.fees,
                    reception_modes=list(row.reception_modes or []),
                    appointment_required=row.appointment_required,
                    capacity_status=row.capacity_status,
                    accepts_referrals=row.accepts_referrals,
                    status=row.status,
                    commune_code=row.commune_code,
                    commune=row.commune,
                    latitude=located.latitude if located else None,
                    longitude=located.longitude if located else None,
                    position=position_of(located),
                    distance_km=_round(hit.distance_km),
                    remote_only=remote_only(row.reception_modes),
                    stale=stale(row.reviewed_at),
                    updated_at=row.updated_at,
                    verified_at=row.verified_at,
                    score=hit.score,
                    highlights=highlights(row.name, row.description),
                )
            )
        return items
    structure_rows = {
        row.id: row for row in (await session.execute(_STRUCTURES_BY_ID, {"ids": ids})).all()
    }
    thematiques: dict[uuid.UUID, list[str]] = {
        entity_id: sorted(values or [])
        for entity_id, values in await session.execute(_STRUCTURE_THEMATIQUES, {"ids": ids})
    }
    structures: list[Any] = []
    for hit in result.hits:
        s = structure_rows.get(hit.entity_id)
        if s is None:
            continue
        located = entry_position(
            s.latitude, s.longitude, s.commune_code, s.geocoded_latitude, s.geocoded_longitude
        )
        structures.append(
            StructureHit(
                id=s.id,
                name=s.name,
                typology=s.typology,
                networks=list(s.networks or []),
                description=s.description,
                thematiques=thematiques.get(s.id, []),
                accepts_referrals=s.accepts_referrals,
                status=s.status,
                commune_code=s.commune_code,
                commune=s.commune,
                latitude=located.latitude if located else None,
                longitude=located.longitude if located else None,
                position=position_of(located),
                distance_km=_round(hit.distance_km),
                stale=stale(s.reviewed_at),
                updated_at=s.updated_at,
                verified_at=s.verified_at,
                score=hit.score,
                highlights=highlights(s.name, s.description),
            )
        )
    return structures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
