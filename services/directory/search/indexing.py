"""Keep the database search tables in sync with the directory, in the caller's transaction.

Write paths (CRUD, imports, moderation) call ``refresh_search_index(session, service_ids)`` after
changing services, and ``refresh_structure_search_index(session, structure_ids)`` after changing
structures (a structure's name, typology, networks and position are part of its services'
documents). Both are idempotent and work in bulk: rows are read, analysed and written in chunks
with one statement per table and chunk, so an import of 100k services costs a few hundred
statements. On PostgreSQL the documents of a refresh step are copied into a staging table and
upserted by one statement: one pass over the GIN indexes instead of one per chunk (measured at
100k services: 4.4 s instead of 9.1 s). An import indexes its new services from the rows it
wrote (``IndexRefresh.add_documents``, copied straight into the table). Archived or deleted
entries leave the index. Meilisearch, when configured, is fed from the outbox by the worker (see
``services.directory.search.meili``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.domain.positions import (
    REMOTE_MODE,
    entry_position,
    remote_only,
    service_position,
)
from services.directory.models import Service, ServiceZone, Structure
from services.directory.search import tables
from services.directory.search.analysis import index_terms
from services.kernel.db import driver_connection, table_statistics
from services.kernel.reference import taxonomy
from services.kernel.reference.taxonomies import category_of

CHUNK = 500

_SERVICE_COLUMNS = (
    Service.id,
    Service.structure_id,
    Service.status,
    Service.name,
    Service.description,
    Service.type,
    Service.thematiques,
    Service.publics,
    Service.publics_details,
    Service.fees,
    Service.fees_details,
    Service.access_conditions,
    Service.documents_to_bring,
    Service.reception_modes,
    Service.appointment_required,
    Service.capacity_status,
    Service.commune_code,
    Service.commune,
    Service.latitude,
    Service.longitude,
    Service.geocoded_latitude,
    Service.geocoded_longitude,
    Service.updated_at,
    Service.verified_at,
    Service.reviewed_at,
)
_STRUCTURE_COLUMNS = (
    Structure.id,
    Structure.status,
    Structure.name,
    Structure.typology,
    Structure.networks,
    Structure.description,
    Structure.commune_code,
    Structure.commune,
    Structure.latitude,
    Structure.longitude,
    Structure.geocoded_latitude,
    Structure.geocoded_longitude,
    Structure.updated_at,
    Structure.verified_at,
    Structure.reviewed_at,
)


@cache
def _labels(name: str) -> dict[str, str]:
    labels = {t.value: t.label for t in taxonomy(name).terms}
    if name == "thematiques":
        labels.update({t.value: t.label for t in taxonomy("categories-thematiques").terms})
    return labels


def _label(name: str, value: str | None) -> str:
    if not value:
        return ""
    return _labels(name).get(value, value.replace("-", " "))


def _chunks(ids: Sequence[uuid.UUID], size: int = CHUNK) -> Iterator[Sequence[uuid.UUID]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _dialect(session: AsyncSession) -> str:
    bind = session.bind
    return bind.dialect.name if bind is not None else "sqlite"


def effective_status(own: str, structure: str) -> str:
    """A published service of an unpublished structure is not public: it takes the structure's
    status (draft, suspended or archived)."""
    if own == "published" and structure != "published":
        return structure
    return own


async def refresh_search_index(session: AsyncSession, service_ids: Collection[uuid.UUID]) -> None:
    """Re-index these services (and the structures they belong to) from the database."""
    refresh = IndexRefresh(session)
    await refresh.add_services(service_ids)
    await refresh.finish()


async def refresh_structure_search_index(
    session: AsyncSession, structure_ids: Collection[uuid.UUID]
) -> None:
    """Re-index these structures and every one of their services."""
    refresh = IndexRefresh(session)
    await refresh.add_structures(structure_ids)
    await refresh.finish()


class IndexRefresh:
    """One refresh of the index, fed in several steps (an import re-indexes each chunk of
    services as soon as it is written). Each service is indexed once; structures, whose
    documents sum up all their services, are indexed at ``finish``. On PostgreSQL each step's
    documents are staged and upserted in one statement (one pass over the GIN indexes), new
    services' documents (``add_documents``) copied into the table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.indexed: set[uuid.UUID] = set()
        self.structures: set[uuid.UUID] = set()

    async def add_services(self, service_ids: Collection[uuid.UUID]) -> None:
        """Index these services; their structures (and those they were indexed under: a
        service may have moved) are indexed at ``finish``."""
        ids = sorted(set(service_ids) - self.indexed)
        self.indexed.update(ids)
        for chunk in _chunks(ids):
            self.structures |= await _refresh_services(self.session, chunk)
            stale = await self.session.scalars(
                sa.select(tables.documents.c.structure_id).where(
                    tables.documents.c.kind == "service", tables.documents.c.entity_id.in_(chunk)
                )
            )
            self.structures |= set(stale)
        await _upsert_staged(self.session)

    async def add_structures(self, structure_ids: Collection[uuid.UUID]) -> None:
        """Index these structures (at ``finish``) and now every one of their services (their
        documents carry the structure's name, networks and position)."""
        ids = sorted(set(structure_ids))
        self.structures.update(ids)
        service_ids: set[uuid.UUID] = set()
        for chunk in _chunks(ids):
            found = await self.session.scalars(
                sa.select(Service.id).where(Service.structure_id.in_(chunk))
            )
            service_ids |= set(found)
            indexed = await self.session.scalars(
                sa.select(tables.documents.c.entity_id).where(
                    tables.documents.c.kind == "service", tables.documents.c.structure_id.in_(chunk)
                )
            )
            service_ids |= set(indexed)
        service_ids -= self.indexed
        self.indexed |= service_ids
        for chunk in _chunks(sorted(service_ids)):
            await _refresh_services(self.session, chunk)
        await _upsert_staged(self.session)

    async def add_documents(
        self,
        service_ids: Sequence[uuid.UUID],
        structure_ids: Iterable[uuid.UUID],
        documents: list[dict[str, Any]],
        facet_rows: list[list[tuple[str, str]]],
    ) -> None:
        """Index new services from documents the caller made (``service_documents``, from the
        rows it has just written: an import); their structures are indexed at ``finish``."""
        self.indexed.update(service_ids)
        self.structures.update(structure_ids)
        await _write(self.session, "service", service_ids, documents, facet_rows, new=True)

    async def finish(self) -> None:
        await _refresh_structures(self.session, sorted(self.structures))
        await _upsert_staged(self.session)


async def _refresh_services(session: AsyncSession, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    rows = (await session.execute(sa.select(*_SERVICE_COLUMNS).where(Service.id.in_(ids)))).all()
    structure_ids = {row.structure_id for row in rows}
    structures = await structure_rows(session, structure_ids)
    zones: dict[uuid.UUID, list[str]] = defaultdict(list)
    for service_id, zone in (
        await session.execute(
            sa.select(ServiceZone.service_id, ServiceZone.zone).where(
                ServiceZone.service_id.in_(ids)
            )
        )
    ).all():
        zones[service_id].append(zone)
    documents, facet_rows = service_documents(rows, structures, zones)
    await _write(session, "service", ids, documents, facet_rows)
    return structure_ids


# The service fields a document is made of (``service_document`` reads them as attributes).
SERVICE_FIELDS = tuple(column.key for column in _SERVICE_COLUMNS)


async def structure_rows(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The structure fields of services' documents, by structure id."""
    found: dict[uuid.UUID, Any] = {}
    for chunk in _chunks(sorted(ids)):
        query = sa.select(*_STRUCTURE_COLUMNS).where(Structure.id.in_(chunk))
        found.update((row.id, row) for row in (await session.execute(query)).all())
    return found


def service_documents(
    rows: Iterable[Any], structures: Mapping[uuid.UUID, Any], zones: Mapping[uuid.UUID, list[str]]
) -> tuple[list[dict[str, Any]], list[list[tuple[str, str]]]]:
    """Documents (and facets) of services still searchable: rows with ``SERVICE_FIELDS`` as
    attributes, their structures' rows (``structure_rows``) and their eligibility zones. Pure:
    an import runs it in a worker thread."""
    documents: list[dict[str, Any]] = []
    facet_rows: list[list[tuple[str, str]]] = []
    for row in rows:
        structure = structures.get(row.structure_id)
        if structure is None:
            continue
        status = effective_status(row.status, structure.status)
        if status == "archived":
            continue
        document, facets = service_document(row, structure, sorted(zones.get(row.id, [])), status)
        documents.append(document)
        facet_rows.append(facets)
    return documents, facet_rows


def service_document(
    row: Any, structure: Any, zones: list[str], status: str
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    thematiques: list[str] = list(row.thematiques or [])
    categories = sorted({category_of(t) for t in thematiques})
    publics: list[str] = list(row.publics or [])
    modes: list[str] = list(row.reception_modes or [])
    networks: list[str] = list(structure.networks or [])
    commune_code = row.commune_code or structure.commune_code
    # A document's position is where distances are measured from: none for a service received
    # only remotely (not near anyone; sorted after located entries), the commune's reference
    # point for an entry without coordinates nor geocoded address (``domain.positions``).
    position = (
        None
        if remote_only(modes)
        else service_position(
            row.latitude,
            row.longitude,
            row.commune_code,
            structure.latitude,
            structure.longitude,
            structure.commune_code,
            geocoded=(row.geocoded_latitude, row.geocoded_longitude),
            structure_geocoded=(structure.geocoded_latitude, structure.geocoded_longitude),
        )
    )
    name_text = row.name or ""
    topic_text = " ; ".join(
        part
        for part in (
            *(_label("thematiques", t) for t in [*thematiques, *categories]),
            _label("types-de-services", row.type),
            structure.name,
            *(_label("reseaux-porteurs", n) for n in networks),
            *(_label("publics", p) for p in publics),
        )
        if part
    )
    body_text = " ; ".join(
        part
        for part in (
            row.description,
            row.access_conditions,
            row.publics_details,
            row.fees_details,
            *(row.documents_to_bring or []),
            row.commune or structure.commune,
            _label("typologies-de-structures", structure.typology),
        )
        if part
    )
    zone_values = zones or ([f"commune:{commune_code}"] if commune_code else [])
    facets = (
        [("thematique", t) for t in thematiques]
        + [("categorie", c) for c in categories]
        + [("public", p) for p in publics]
        + [("reception", m) for m in modes]
        + [("network", n) for n in networks]
        + [("zone", z) for z in zone_values]
        + [("type", row.type or ""), ("fees", row.fees or "")]
    )
    document = {
        "kind": "service",
        "entity_id": row.id,
        "structure_id": row.structure_id,
        "status": status,
        "capacity_status": row.capacity_status or "accepting",
        "type": row.type,
        "fees": row.fees,
        "appointment_required": row.appointment_required,
        "typology": structure.typology,
        "remote": REMOTE_MODE in modes,
        "commune_code": commune_code,
        "latitude": position.latitude if position else None,
        "longitude": position.longitude if position else None,
        # A document's updated_at is the entry's freshness date (search uses it for nothing else).
        "updated_at": row.reviewed_at or row.updated_at,
        "verified_at": row.verified_at,
        "name": (row.name or "")[:300],
        "name_text": name_text,
        "topic_text": topic_text,
        "body_text": body_text,
        # Its own name only: the structure's name is a topic (a service found only through
        # it ranks below the services named after the words).
        "name_terms": index_terms(name_text),
        "topic_terms": index_terms(topic_text),
        "body_terms": index_terms(body_text),
    }
    unique = _unique(facets)
    document.update(filter_arrays(unique))
    return document, unique


async def _refresh_structures(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    for chunk in _chunks(ids):
        rows = (
            await session.execute(sa.select(*_STRUCTURE_COLUMNS).where(Structure.id.in_(chunk)))
        ).all()
        services: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for service in (
            await session.execute(
                sa.select(
                    Service.structure_id,
                    Service.name,
                    Service.thematiques,
                    Service.publics,
                    Service.reception_modes,
                    Service.status,
                ).where(Service.structure_id.in_(chunk), Service.status != "archived")
            )
        ).all():
            services[service.structure_id].append(service)
        service_ids = list(
            await session.scalars(
                sa.select(Service.id).where(
                    Service.structure_id.in_(chunk), Service.status != "archived"
                )
            )
        )
        zones_by_structure: dict[uuid.UUID, set[str]] = defaultdict(set)
        if service_ids:
            for structure_id, zone in (
                await session.execute(
                    sa.select(Service.structure_id, ServiceZone.zone)
                    .join(ServiceZone, ServiceZone.service_id == Service.id)
                    .where(Service.structure_id.in_(chunk), Service.status != "archived")
                )
            ).all():
                zones_by_structure[structure_id].add(zone)
        documents: list[dict[str, Any]] = []
        facet_rows: list[list[tuple[str, str]]] = []
        for row in rows:
            if row.status == "archived":
                continue
            document, facets = structure_document(
                row, services.get(row.id, []), sorted(zones_by_structure.get(row.id, set()))
            )
            documents.append(document)
            facet_rows.append(facets)
        await _write(session, "structure", chunk, documents, facet_rows)


def structure_document(
    row: Any, services: list[Any], zones: list[str]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    public = [s for s in services if s.status == "published"] or services
    thematiques = sorted({t for s in public for t in (s.thematiques or [])})
    categories = sorted({category_of(t) for t in thematiques})
    publics = sorted({p for s in public for p in (s.publics or [])})
    modes = sorted({m for s in public for m in (s.reception_modes or [])})
    networks: list[str] = list(row.networks or [])
    name_text = row.name or ""
    topic_text = " ; ".join(
        part
        for part in (
            _label("typologies-de-structures", row.typology),
            *(_label("reseaux-porteurs", n) for n in networks),
            *(_label("thematiques", t) for t in [*thematiques, *categories]),
            *(s.name for s in public),
        )
        if part
    )
    body_text = " ; ".join(part for part in (row.description, row.commune) if part)
    zone_values = zones or ([f"commune:{row.commune_code}"] if row.commune_code else [])
    position = entry_position(
        row.latitude,
        row.longitude,
        row.commune_code,
        row.geocoded_latitude,
        row.geocoded_longitude,
    )
    facets = (
        [("thematique", t) for t in thematiques]
        + [("categorie", c) for c in categories]
        + [("public", p) for p in publics]
        + [("reception", m) for m in modes]
        + [("network", n) for n in networks]
        + [("zone", z) for z in zone_values]
    )
    document = {
        "kind": "structure",
        "entity_id": row.id,
        "structure_id": row.id,
        "status": row.status,
        "capacity_status": "accepting",
        "type": None,
        "fees": None,
        "appointment_required": None,
        "typology": row.typology,
        "remote": REMOTE_MODE in modes,
        "commune_code": row.commune_code,
        "latitude": position.latitude if position else None,
        "longitude": position.longitude if position else None,
        # A document's updated_at is the entry's freshness date (search uses it for nothing else).
        "updated_at": row.reviewed_at or row.updated_at,
        "verified_at": row.verified_at,
        "name": (row.name or "")[:300],
        "name_text": name_text,
        "topic_text": topic_text,
        "body_text": body_text,
        "name_terms": index_terms(name_text),
        "topic_terms": index_terms(topic_text),
        "body_terms": index_terms(body_text),
    }
    unique = _unique(facets)
    document.update(filter_arrays(unique))
    return document, unique


def filter_arrays(facets: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The document's multi-valued filter columns (``tables.FILTER_ARRAYS``) from its facets."""
    arrays: dict[str, list[str]] = {column: [] for column in tables.FILTER_ARRAYS}
    column_of = {facet: column for column, facet in tables.FILTER_ARRAYS.items()}
    for facet, value in facets:
        column = column_of.get(facet)
        if column is not None:
            arrays[column].append(value)
    return arrays


def _unique(facets: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((f, v[:120]) for f, v in facets if v))


async def _write(
    session: AsyncSession,
    kind: str,
    ids: Sequence[uuid.UUID],
    documents: list[dict[str, Any]],
    facet_rows: list[list[tuple[str, str]]],
    *,
    new: bool = False,
) -> None:
    """Upsert the documents of ``ids`` that are still searchable, delete the others. ``new``:
    entities never indexed (just created), whose documents can only be inserted."""
    docs = tables.documents
    keep = {d["entity_id"] for d in documents}
    gone = [i for i in ids if i not in keep]
    if gone:
        await session.execute(
            sa.delete(docs).where(docs.c.kind == kind, docs.c.entity_id.in_(gone))
        )
    if not documents:
        return
    postgres = _dialect(session) == "postgresql"
    if postgres and new:
        # Straight into the table: nothing to update, no staging copy to write and read.
        raw = await driver_connection(session)
        await raw.copy_records_to_table(
            tables.documents.name, records=_records(documents), columns=_STAGED
        )
        await table_statistics(session).wrote(tables.documents.name, len(documents))
    elif postgres:
        # Upserted by ``_upsert_staged`` at the end of the refresh. PostgreSQL filters and counts
        # through the documents' filter arrays (GIN) and keeps no facet rows.
        await _stage_documents(session, documents)
    else:
        insert = sqlite.insert(docs)
        columns = [c for c in documents[0] if c not in ("kind", "entity_id")]
        upsert = insert.on_conflict_do_update(
            index_elements=["kind", "entity_id"],
            set_={c: insert.excluded[c] for c in columns},
        ).returning(docs.c.doc_id, docs.c.entity_id, sort_by_parameter_order=True)
        result = await session.execute(upsert, documents)
        doc_ids = {entity_id: doc_id for doc_id, entity_id in result.all()}
        ordered = [doc_ids[d["entity_id"]] for d in documents]
        # SQLite filters and counts through search_facets.
        await session.execute(sa.delete(tables.facets).where(tables.facets.c.doc_id.in_(ordered)))
        facet_values = [
            {"doc_id": doc_id, "facet": facet, "value": value}
            for doc_id, pairs in zip(ordered, facet_rows, strict=True)
            for facet, value in pairs
        ]
        if facet_values:
            await session.execute(sa.insert(tables.facets), facet_values)
    # The vocabulary is the fields' terms (the analysed columns hold exactly those).
    terms: set[str] = set()
    for d in documents:
        for column in ("name_terms", "topic_terms", "body_terms"):
            terms.update(d[column].split())
    await add_vocabulary(session, terms)


STAGE = "search_documents_stage"
# Every column a document gives (the generated ``tsv`` and the serial ``doc_id`` excepted).
_STAGED = [c.name for c in tables.documents.columns if c.name != "doc_id"]
_STAGED_NAMES = ", ".join(_STAGED)
_UPSERT_STAGED = (  # constant names only
    f"INSERT INTO search_documents ({_STAGED_NAMES}) SELECT {_STAGED_NAMES} FROM {STAGE} "  # noqa: S608
    "ON CONFLICT (kind, entity_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _STAGED if c not in ("kind", "entity_id"))
)


async def _stage_documents(session: AsyncSession, documents: list[dict[str, Any]]) -> None:
    """PostgreSQL: ``COPY`` (binary, asyncpg) documents into a temporary staging table of this
    connection (emptied at commit), no per-row parameters."""
    raw = await driver_connection(session)
    await raw.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ON COMMIT DELETE ROWS AS "  # noqa: S608
        f"SELECT {_STAGED_NAMES} FROM search_documents WITH NO DATA"
    )
    await raw.copy_records_to_table(STAGE, records=_records(documents), columns=_STAGED)
    session.info[STAGE] = session.info.get(STAGE, 0) + len(documents)


def _records(documents: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(d[c] for c in _STAGED) for d in documents]


async def _upsert_staged(session: AsyncSession) -> None:
    """PostgreSQL: upsert every staged document in one statement, then empty the stage. A
    refresh stages each entity once, so no row is updated twice by the statement."""
    staged = session.info.pop(STAGE, 0)
    if not staged:
        return
    raw = await driver_connection(session)
    await raw.execute(_UPSERT_STAGED)
    await raw.execute(f"DELETE FROM {STAGE}")  # noqa: S608
    await table_statistics(session).wrote(tables.documents.name, staged)


async def add_vocabulary(session: AsyncSession, terms: Iterable[str]) -> None:
    values = [{"term": t} for t in sorted(terms) if 1 < len(t) <= 64]
    if not values:
        return
    if _dialect(session) == "postgresql":
        result = await session.execute(
            sa.text(
                "INSERT INTO search_vocabulary (term) SELECT unnest(CAST(:terms AS text[])) "
                "ON CONFLICT (term) DO NOTHING"
            ),
            {"terms": [v["term"] for v in values]},
        )
        added: int = result.rowcount  # type: ignore[attr-defined]
        await table_statistics(session).wrote(tables.vocabulary.name, added)
    else:
        lite = sqlite.insert(tables.vocabulary).on_conflict_do_nothing(index_elements=["term"])
        await session.execute(lite, values)
