"""Queries of the HSDS 3.1 read-only view (``/directory/hsds/…``): public entries only.

Lists use HSDS page envelopes (``page``/``per_page``, offset paging as the standard requires)
over stable ``id`` order. Locations and services-at-location are unions of several tables:
places, structures with an address, services with their own address; itinerant sessions and
each service's primary place (its own address, else its structure's when it has no sessions).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory import publication as pub
from services.directory.interop import hsds
from services.directory.models import Place, Service, ServiceSession, Structure
from services.kernel.reference import expand_thematiques

# HSDS taxonomy -> service column (list columns hold JSON arrays).
_TERM_COLUMNS: dict[str, tuple[Any, bool]] = {
    "thematiques": (Service.thematiques, True),
    "publics": (Service.publics, True),
    "types-de-services": (Service.type, False),
    "frais": (Service.fees, False),
    "modes-accueil": (Service.reception_modes, True),
    "modes-mobilisation": (Service.referral_modes, True),
    "personnes-mobilisatrices": (Service.referable_by, True),
}


@dataclass
class Filters:
    page: int = 1
    per_page: int = 50
    search: str | None = None
    term: dict[str, Any] | None = None
    organization_id: uuid.UUID | None = None
    modified_after: datetime | None = None


def _has_address(model: type[Structure] | type[Service] | type[Place]) -> Any:
    return sa.or_(
        model.address.isnot(None), model.commune_code.isnot(None), model.latitude.isnot(None)
    )


def _like(column: Any, text: str) -> Any:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.func.lower(column).like(f"%{escaped}%", escape="\\")


def _term_clause(session: AsyncSession, term: dict[str, Any]) -> Any:
    name, code = term["taxonomy"], term["code"]
    if name == "reseaux-porteurs":
        networks = sa.select(Structure.id).where(
            pub.json_contains_any(session, Structure.networks, [code])
        )
        return Service.structure_id.in_(networks.scalar_subquery())
    column, is_list = _TERM_COLUMNS[name]
    if not is_list:
        return column == code
    values = sorted(expand_thematiques([code])) if name == "thematiques" else [code]
    return pub.json_contains_any(session, column, values)


def _service_clauses(session: AsyncSession, f: Filters) -> list[Any]:
    clauses: list[Any] = [pub.public_services()]
    if f.organization_id is not None:
        clauses.append(Service.structure_id == f.organization_id)
    if f.modified_after is not None:
        clauses.append(Service.updated_at >= f.modified_after)
    if f.search:
        clauses.append(sa.or_(_like(Service.name, f.search), _like(Service.description, f.search)))
    if f.term is not None:
        clauses.append(_term_clause(session, f.term))
    return clauses


async def _page(
    session: AsyncSession, query: sa.Select[Any], order: Any, f: Filters
) -> tuple[int, list[dict[str, Any]]]:
    total = await session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(order).limit(f.per_page).offset((f.page - 1) * f.per_page)
    )
    return int(total or 0), [dict(r) for r in rows.mappings()]


def _envelope(contents: list[dict[str, Any]], total: int, f: Filters) -> dict[str, Any]:
    return hsds.page_envelope(contents, total=total, page=f.page, per_page=f.per_page)


# --------------------------------------------------------------------------- services


async def list_services(session: AsyncSession, f: Filters) -> dict[str, Any]:
    query = sa.select(*Service.__table__.c).where(*_service_clauses(session, f))
    total, rows = await _page(session, query, Service.id, f)
    return _envelope([hsds.service(r) for r in rows], total, f)


async def get_service(session: AsyncSession, service_id: uuid.UUID) -> dict[str, Any] | None:
    query = sa.select(*Service.__table__.c).where(Service.id == service_id, pub.public_services())
    row = (await session.execute(query)).mappings().first()
    if row is None:
        return None
    structure = await _structure(session, row["structure_id"])
    zones = await pub.zones_of(session, [service_id])
    sals = await _sals_of_service(session, service_id)
    return hsds.service(
        row,
        zones=zones.get(service_id, []),
        full=True,
        organization_row=structure,
        service_at_locations=sals,
    )


async def _structure(session: AsyncSession, structure_id: uuid.UUID) -> dict[str, Any] | None:
    query = sa.select(*Structure.__table__.c).where(Structure.id == structure_id)
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row is not None else None


# --------------------------------------------------------------------------- organizations


async def list_organizations(session: AsyncSession, f: Filters) -> dict[str, Any]:
    query = sa.select(*Structure.__table__.c).where(pub.public_structures())
    if f.search:
        query = query.where(
            sa.or_(_like(Structure.name, f.search), _like(Structure.description, f.search))
        )
    if f.term is not None:
        if f.term["taxonomy"] == "reseaux-porteurs":
            query = query.where(
                pub.json_contains_any(session, Structure.networks, [f.term["code"]])
            )
        else:
            offering = sa.select(Service.structure_id).where(
                pub.public_services(), _term_clause(session, f.term)
            )
            query = query.where(Structure.id.in_(offering.scalar_subquery()))
    total, rows = await _page(session, query, Structure.id, f)
    return _envelope([hsds.organization(r) for r in rows], total, f)


async def get_organization(session: AsyncSession, org_id: uuid.UUID) -> dict[str, Any] | None:
    query = sa.select(*Structure.__table__.c).where(Structure.id == org_id, pub.public_structures())
    row = (await session.execute(query)).mappings().first()
    if row is None:
        return None
    organization = hsds.organization(row, full=True)
    services = await session.execute(
        sa.select(*Service.__table__.c)
        .where(Service.structure_id == org_id, pub.public_services())
        .order_by(Service.id)
    )
    organization["services"] = [hsds.service(s) for s in services.mappings()]
    places = await session.execute(
        sa.select(*Place.__table__.c)
        .where(Place.structure_id == org_id, pub.public_places())
        .order_by(Place.id)
    )
    organization.setdefault("locations", []).extend(
        hsds.location(p, kind="place", organization_id=org_id) for p in places.mappings()
    )
    if not organization["locations"]:
        del organization["locations"]
    return organization


# --------------------------------------------------------------------------- locations


def _locations_union(organization_id: uuid.UUID | None) -> Any:
    parts = [
        sa.select(
            Place.id.label("id"),
            sa.literal("place").label("kind"),
            Place.structure_id.label("organization_id"),
        ).where(pub.public_places()),
        sa.select(
            Structure.id.label("id"),
            sa.literal("structure").label("kind"),
            Structure.id.label("organization_id"),
        ).where(pub.public_structures(), _has_address(Structure)),
        sa.select(
            Service.id.label("id"),
            sa.literal("service").label("kind"),
            Service.structure_id.label("organization_id"),
        ).where(pub.public_services(), _has_address(Service)),
    ]
    if organization_id is not None:
        parts = [p.where(p.selected_columns.organization_id == organization_id) for p in parts]
    return sa.union_all(*parts).subquery()


_KIND_MODELS: dict[str, type[Place] | type[Structure] | type[Service]] = {
    "place": Place,
    "structure": Structure,
    "service": Service,
}


async def _location_rows(
    session: AsyncSession, refs: Sequence[tuple[uuid.UUID, str]]
) -> dict[uuid.UUID, dict[str, Any]]:
    found: dict[uuid.UUID, dict[str, Any]] = {}
    for kind, model in _KIND_MODELS.items():
        ids = [i for i, k in refs if k == kind]
        if not ids:
            continue
        stmt = sa.select(*model.__table__.c).where(model.id.in_(ids))
        if model is Service:
            # A service's location is where it is for distances (``hsds.location``).
            stmt = stmt.add_columns(
                Structure.latitude.label("structure_latitude"),
                Structure.longitude.label("structure_longitude"),
                Structure.commune_code.label("structure_commune_code"),
                Structure.geocoded_latitude.label("structure_geocoded_latitude"),
                Structure.geocoded_longitude.label("structure_geocoded_longitude"),
            ).join(Structure, Structure.id == Service.structure_id)
        rows = await session.execute(stmt)
        for row in rows.mappings():
            found[row["id"]] = dict(row)
    return found


def _location(row: dict[str, Any], kind: str) -> dict[str, Any]:
    organization_id = row["id"] if kind == "structure" else row["structure_id"]
    return hsds.location(row, kind=kind, organization_id=organization_id)


async def list_locations(session: AsyncSession, f: Filters) -> dict[str, Any]:
    union = _locations_union(f.organization_id)
    total, refs = await _page(session, sa.select(union), union.c.id, f)
    rows = await _location_rows(session, [(r["id"], r["kind"]) for r in refs])
    contents = [_location(rows[r["id"]], r["kind"]) for r in refs if r["id"] in rows]
    return _envelope(contents, total, f)


async def get_location(session: AsyncSession, location_id: uuid.UUID) -> dict[str, Any] | None:
    union = _locations_union(None)
    ref = (await session.execute(sa.select(union).where(union.c.id == location_id))).first()
    if ref is None:
        return None
    rows = await _location_rows(session, [(ref.id, ref.kind)])
    row = rows.get(ref.id)
    return _location(row, ref.kind) if row is not None else None


# --------------------------------------------------------------------------- services at locations


def _sal_union(clauses: list[Any]) -> Any:
    has_sessions = sa.exists(
        sa.select(1).where(ServiceSession.service_id == Service.id).correlate(Service)
    )
    sessions = (
        sa.select(
            ServiceSession.id.label("id"),
            ServiceSession.service_id.label("service_id"),
            ServiceSession.place_id.label("location_id"),
            sa.literal("place").label("location_kind"),
            Service.structure_id.label("organization_id"),
        )
        .join(Service, Service.id == ServiceSession.service_id)
        .join(Place, Place.id == ServiceSession.place_id)
        .where(pub.public_places(), *clauses)
    )
    own = _has_address(Service)
    primary = (
        sa.select(
            Service.id.label("id"),
            Service.id.label("service_id"),
            sa.case((own, Service.id), else_=Service.structure_id).label("location_id"),
            sa.case((own, "service"), else_="structure").label("location_kind"),
            Service.structure_id.label("organization_id"),
        )
        .join(Structure, Structure.id == Service.structure_id)
        .where(sa.or_(own, sa.and_(~has_sessions, _has_address(Structure))), *clauses)
    )
    return sa.union_all(sessions, primary).subquery()


async def _render_sals(
    session: AsyncSession, refs: Sequence[dict[str, Any]], *, full: bool
) -> list[dict[str, Any]]:
    locations = await _location_rows(
        session, [(r["location_id"], r["location_kind"]) for r in refs]
    )
    session_ids = [r["id"] for r in refs if r["location_kind"] == "place"]
    extra: dict[uuid.UUID, dict[str, Any]] = {}
    if session_ids:
        rows = await session.execute(
            sa.select(*ServiceSession.__table__.c).where(ServiceSession.id.in_(session_ids))
        )
        extra = {r["id"]: dict(r) for r in rows.mappings()}
    contents = []
    for ref in refs:
        info = extra.get(ref["id"], {})
        contents.append(
            hsds.service_at_location(
                ref["id"],
                ref["service_id"],
                locations.get(ref["location_id"]),
                location_kind=ref["location_kind"],
                organization_id=ref["organization_id"],
                hours=info.get("opening_hours"),
                note=info.get("note"),
                full=full,
            )
        )
    return contents


async def list_service_at_locations(session: AsyncSession, f: Filters) -> dict[str, Any]:
    union = _sal_union(_service_clauses(session, f))
    total, refs = await _page(session, sa.select(union), union.c.id, f)
    return _envelope(await _render_sals(session, refs, full=False), total, f)


async def get_service_at_location(
    session: AsyncSession, sal_id: uuid.UUID
) -> dict[str, Any] | None:
    union = _sal_union([pub.public_services()])
    ref = (await session.execute(sa.select(union).where(union.c.id == sal_id))).mappings().first()
    if ref is None:
        return None
    [sal] = await _render_sals(session, [dict(ref)], full=True)
    return sal


async def _sals_of_service(session: AsyncSession, service_id: uuid.UUID) -> list[dict[str, Any]]:
    return (await sals_of_services(session, [service_id])).get(service_id, [])


async def sals_of_services(
    session: AsyncSession, service_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Full HSDS service_at_locations of these (public) services, by service id: one statement
    for the references, then the locations and sessions they name."""
    if not service_ids:
        return {}
    union = _sal_union([pub.public_services(), Service.id.in_(list(service_ids))])
    query = sa.select(union).order_by(union.c.service_id, union.c.id)
    refs = [dict(r) for r in (await session.execute(query)).mappings()]
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for ref, sal in zip(refs, await _render_sals(session, refs, full=True), strict=True):
        found.setdefault(ref["service_id"], []).append(sal)
    return found
