"""`relais seed-demo`: load the demo territory through the data·inclusion importer.

The rows go through ``import_datainclusion`` like any producer's file (published on creation,
``date_maj`` → ``reviewed_at``, so entries whose last change is old are stale). Then the
Relais-only facts are applied to the stored entries: typology and parent, documents to bring,
capacity, booking link, drafts. Only differences are written (with a history row, a version bump
and a search refresh): running it twice changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.demo.generator import DEFAULT_SEED, SOURCE, build_territory
from services.directory.importer import ImportReport, import_datainclusion
from services.directory.models import HistoryEntry, Service, Structure
from services.directory.search import indexing

ACTOR = "seed-demo"


class SeedReport(msgspec.Struct, kw_only=True):
    imported: ImportReport
    structures: int = 0
    services: int = 0
    adjusted: int = 0
    published: int = 0
    drafts: int = 0
    stale: int = 0


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _adjust(session: AsyncSession, entity: Structure | Service, wanted: dict[str, Any]) -> bool:
    """Set the attributes that differ; record a history row. True when something changed."""
    changes = {
        name: [_plain(getattr(entity, name)), _plain(value)]
        for name, value in wanted.items()
        if getattr(entity, name) != value
    }
    if not changes:
        return False
    for name, value in wanted.items():
        setattr(entity, name, value)
    entity.version += 1
    entity.updated_by = ACTOR
    session.add(
        HistoryEntry(
            entity_type="structure" if isinstance(entity, Structure) else "service",
            entity_id=entity.id,
            action=ACTOR,
            actor=ACTOR,
            changes=changes,
        )
    )
    return True


async def seed_demo(
    session: AsyncSession,
    *,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    review_period_days: int = 182,
) -> SeedReport:
    """Import the demo territory and apply its Relais-only facts. Nothing is committed here."""
    territory = build_territory(seed, today=today)
    imported = await import_datainclusion(
        session, territory.structures, territory.services, actor=ACTOR
    )
    report = SeedReport(imported=imported)
    structures = {
        s.source_id: s
        for s in await session.scalars(sa.select(Structure).where(Structure.source == SOURCE))
    }
    services = {
        s.source_id: s
        for s in await session.scalars(sa.select(Service).where(Service.source == SOURCE))
    }
    changed_structures: set[uuid.UUID] = set()
    changed_services: set[uuid.UUID] = set()
    for source_id, extra in territory.structure_extras.items():
        structure = structures.get(source_id)
        if structure is None:  # rejected by the importer: reported there
            continue
        parent = structures.get(extra["parent"]) if extra["parent"] else None
        wanted = {
            "typology": extra["typology"],
            "parent_id": parent.id if parent is not None else None,
            "status": extra["status"],
            "accepts_referrals": extra["accepts_referrals"],
        }
        if _adjust(session, structure, wanted):
            changed_structures.add(structure.id)
    for source_id, extra in territory.service_extras.items():
        service = services.get(source_id)
        if service is None:
            continue
        wanted = {
            "documents_to_bring": extra["documents_to_bring"],
            "capacity_status": extra["capacity_status"],
            "capacity_until": (
                date.fromisoformat(extra["capacity_until"]) if extra["capacity_until"] else None
            ),
            "appointment_required": extra["appointment_required"],
            "appointment_url": extra["appointment_url"],
            "referral_response_days": extra["referral_response_days"],
            "status": extra["status"],
        }
        if _adjust(session, service, wanted):
            changed_services.add(service.id)
    await session.flush()
    if changed_structures:
        await indexing.refresh_structure_search_index(session, changed_structures)
    if changed_services:
        await indexing.refresh_search_index(session, changed_services)
    report.adjusted = len(changed_structures) + len(changed_services)
    report.structures = len(structures)
    report.services = len(services)
    entries: list[Structure | Service] = [*structures.values(), *services.values()]
    report.published = sum(e.status == "published" for e in entries)
    report.drafts = sum(e.status == "draft" for e in entries)
    today_ = today or date.today()
    days = {
        row["id"]: (today_ - date.fromisoformat(row["date_maj"])).days
        for row in [*territory.structures, *territory.services]
    }
    report.stale = sum(days.get(e.source_id or "", 0) > review_period_days for e in entries)
    return report
