"""Feeding Meilisearch: its documents and index settings, built from the database search tables;
what the outbox job (``feed.sync_outbox``) pushes (``push_events``); the full rebuild swapped with
the live index (``rebuild`` / ``reindex``). See ``meili`` for the whole design. Imported only
when Meilisearch is configured (it imports the SDK).
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.index import AsyncIndex
from meilisearch_python_sdk.models.settings import (
    Faceting,
    MeilisearchSettings,
    MinWordSizeForTypos,
    Pagination,
    TypoTolerance,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.models import OutboxEvent, Service
from services.directory.search import tables
from services.directory.search.analysis import stopwords, synonyms
from services.directory.search.backend import SearchBackend, SearchUnavailable
from services.directory.search.feed import TOPICS
from services.directory.search.meili import (
    CAPACITY_RANK,
    FAILURES,
    FILTERABLE,
    LIST_FACETS,
    MAX_TOTAL_HITS,
    PRIMARY_KEY,
    RANKING_RULES,
    REINDEX_BATCH,
    SEARCHABLE,
    SORTABLE,
    TASK_TIMEOUT_MS,
    MeiliSearchBackend,
    document_id,
    log,
    timestamp,
)
from services.kernel.clock import utcnow
from services.kernel.db import Database
from services.kernel.settings import Settings


def meili_document(row: Mapping[Any, Any], facets: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The Meilisearch document of one ``search_documents`` row and its ``search_facets``."""
    lists: dict[str, list[str]] = {name: [] for name in LIST_FACETS}
    for facet, value in facets:
        if facet in lists and value not in lists[facet]:
            lists[facet].append(value)
    updated = timestamp(row["updated_at"])
    verified = timestamp(row["verified_at"])
    document: dict[str, Any] = {
        PRIMARY_KEY: document_id(row["kind"], row["entity_id"]),
        "kind": row["kind"],
        "entity_id": str(row["entity_id"]),
        "structure_id": str(row["structure_id"]),
        "status": row["status"],
        "capacity_status": row["capacity_status"],
        "capacity_rank": CAPACITY_RANK.get(row["capacity_status"], 0),
        "type": row["type"],
        "fees": row["fees"],
        "typology": row["typology"],
        "remote": bool(row["remote"]),
        "commune_code": row["commune_code"],
        "updated_at": updated,
        "verified_at": verified,
        "reviewed_at": max(updated, verified),
        "name": row["name"],
        "name_text": row["name_text"],
        "topic_text": row["topic_text"],
        "body_text": row["body_text"],
        **{name: sorted(values) for name, values in lists.items()},
    }
    if row["appointment_required"] is not None:
        document["appointment_required"] = bool(row["appointment_required"])
    latitude, longitude = row["latitude"], row["longitude"]
    if (
        latitude is not None
        and longitude is not None
        and math.isfinite(latitude)
        and math.isfinite(longitude)
        and -90 <= latitude <= 90
        and -180 <= longitude <= 180
    ):
        document["_geo"] = {"lat": float(latitude), "lng": float(longitude)}
    return document


def synonym_table() -> dict[str, list[str]]:
    """``synonyms.toml`` as Meilisearch synonyms: each equivalent term finds the others; a
    one-way rule's ``from`` finds its ``to`` terms."""
    table: dict[str, list[str]] = defaultdict(list)

    def add(source: str, target: str) -> None:
        key, value = source.casefold().strip(), target.casefold().strip()
        if key and value and key != value and value not in table[key]:
            table[key].append(value)

    syn = synonyms()
    for group in syn.groups:
        for source in group:
            for target in group:
                add(source, target)
    for source, targets in syn.oneway:
        for target in targets:
            add(source, target)
    return dict(table)


def index_settings() -> MeilisearchSettings:
    """The index settings: what is searched, filtered, sorted and how it ranks."""
    return MeilisearchSettings(
        searchable_attributes=list(SEARCHABLE),
        displayed_attributes=["*"],
        filterable_attributes=list(FILTERABLE),
        sortable_attributes=list(SORTABLE),
        ranking_rules=list(RANKING_RULES),
        stop_words=sorted(stopwords()),
        synonyms=synonym_table(),
        typo_tolerance=TypoTolerance(
            enabled=True,
            # The rule: one typo from 4 letters (up to 8), two beyond.
            min_word_size_for_typos=MinWordSizeForTypos(one_typo=4, two_typos=9),
            disable_on_attributes=[],
        ),
        faceting=Faceting(max_values_per_facet=200),
        pagination=Pagination(max_total_hits=MAX_TOTAL_HITS),
    )


async def load_documents(
    session: AsyncSession, kind: str, entity_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Meilisearch documents of these entities, from the database search tables."""
    d = tables.documents
    out: dict[uuid.UUID, dict[str, Any]] = {}
    ids = sorted(set(entity_ids))
    for i in range(0, len(ids), REINDEX_BATCH):
        chunk = ids[i : i + REINDEX_BATCH]
        rows = (
            (await session.execute(sa.select(d).where(d.c.kind == kind, d.c.entity_id.in_(chunk))))
            .mappings()
            .all()
        )
        out.update(await _with_facets(session, rows))
    return out


async def _with_facets(
    session: AsyncSession, rows: Sequence[Mapping[Any, Any]]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Meilisearch documents of these rows; their list facets are the rows' filter arrays."""
    del session  # everything is in the rows
    return {
        row["entity_id"]: meili_document(
            row,
            [
                (facet, value)
                for column, facet in tables.FILTER_ARRAYS.items()
                for value in row[column] or ()
            ],
        )
        for row in rows
    }


@dataclass
class Changes:
    """Entities whose Meilisearch documents must be refreshed: services, structures, and
    structures with all their services (a structure's name, position, networks and status are
    part of its services' documents)."""

    services: set[uuid.UUID] = field(default_factory=set)
    structures: set[uuid.UUID] = field(default_factory=set)
    trees: set[uuid.UUID] = field(default_factory=set)

    def add_event(self, topic: str, payload: Mapping[str, Any]) -> None:
        try:
            entity = uuid.UUID(str(payload.get("id")))
            owner = uuid.UUID(str(payload.get("structure_id") or payload.get("id")))
        except ValueError:
            return
        if topic.startswith("service."):
            self.services.add(entity)
            self.structures.add(owner)  # a structure's document sums up its services
        elif topic.startswith("structure."):
            self.trees.add(entity)

    def __bool__(self) -> bool:
        return bool(self.services or self.structures or self.trees)


async def _wait_all(client: AsyncClient, task_uids: Sequence[int]) -> None:
    for uid in task_uids:
        await client.wait_for_task(uid, timeout_in_ms=TASK_TIMEOUT_MS, raise_for_status=True)


async def push_changes(
    session: AsyncSession, client: AsyncClient, index: AsyncIndex, changes: Changes
) -> int:
    """Send the current documents of these entities (a structure brings all its services), and
    delete those that left the database index; wait until Meilisearch applied them."""
    services = set(changes.services)
    structures = sorted(changes.structures | changes.trees)
    trees = sorted(changes.trees)
    d = tables.documents
    for i in range(0, len(trees), REINDEX_BATCH):
        chunk = trees[i : i + REINDEX_BATCH]
        services |= set(
            await session.scalars(sa.select(Service.id).where(Service.structure_id.in_(chunk)))
        )
        services |= set(
            await session.scalars(
                sa.select(d.c.entity_id).where(d.c.kind == "service", d.c.structure_id.in_(chunk))
            )
        )
    documents: list[dict[str, Any]] = []
    deleted: list[str] = []
    for kind, ids in (("service", services), ("structure", set(structures))):
        found = await load_documents(session, kind, ids)
        documents.extend(found.values())
        deleted.extend(document_id(kind, i) for i in sorted(ids) if i not in found)
    uids: list[int] = []
    for i in range(0, len(documents), REINDEX_BATCH):
        task = await index.add_documents(documents[i : i + REINDEX_BATCH], PRIMARY_KEY)
        uids.append(task.task_uid)
    if deleted:
        uids.append((await index.delete_documents(deleted)).task_uid)
    await _wait_all(client, uids)
    return len(documents) + len(deleted)


async def push_events(
    backend: SearchBackend, session: AsyncSession, events: Sequence[OutboxEvent]
) -> None:
    """Push the current documents of these outbox events' entities to the live index
    (``feed.sync_outbox``). ``SearchUnavailable`` (named after the error) when Meilisearch cannot
    take them: its errors are the SDK's, caught here. Without a live index (before the first
    ``relais reindex``) nothing is pushed: the rebuild will take everything."""
    assert isinstance(backend, MeiliSearchBackend)
    changes = Changes()
    for event in events:
        changes.add_event(event.topic, event.payload or {})
    try:
        index = await backend.live_index()
        if index is None:
            log.warning("meilisearch index missing: run `relais reindex`", events=len(events))
            return
        await push_changes(session, backend.client, index, changes)
    except FAILURES as exc:
        raise SearchUnavailable(type(exc).__name__) from None


# --- full rebuild --------------------------------------------------------------------------------


async def rebuild(settings: Settings, db: Database) -> int:
    """Build a new index from the database search tables, swap it with the live one atomically,
    delete the old one, then push again what changed during the rebuild. Returns the number of
    documents indexed."""
    backend = MeiliSearchBackend(settings, db)
    client = backend.client
    live = backend.index_uid
    fresh = f"{live}_{datetime.now(UTC):%Y%m%d%H%M%S}_{uuid.uuid4().hex[:6]}"
    started = utcnow()
    count = 0
    try:
        index = await client.create_index(
            fresh, PRIMARY_KEY, settings=index_settings(), wait=True, timeout_in_ms=TASK_TIMEOUT_MS
        )
        d = tables.documents
        last: int | None = None
        uids: list[int] = []
        while True:
            async with db.session() as session:
                query = sa.select(d).order_by(d.c.doc_id).limit(REINDEX_BATCH)
                if last is not None:
                    query = query.where(d.c.doc_id > last)
                rows = (await session.execute(query)).mappings().all()
                if not rows:
                    break
                last = rows[-1]["doc_id"]
                documents = list((await _with_facets(session, rows)).values())
            uids.append((await index.add_documents(documents, PRIMARY_KEY)).task_uid)
            count += len(documents)
        await _wait_all(client, uids)
        if await client.get_raw_index(live) is None:
            await client.create_index(
                live,
                PRIMARY_KEY,
                settings=index_settings(),
                wait=True,
                timeout_in_ms=TASK_TIMEOUT_MS,
            )
        swap = await client.swap_indexes([(live, fresh)])
        await _wait_all(client, [swap.task_uid])
        # ``fresh`` now holds the previous live index.
        await _wait_all(client, [(await client.index(fresh).delete()).task_uid])
        changes = Changes()
        async with db.session() as session:
            for topic, payload in await session.execute(
                sa.select(OutboxEvent.topic, OutboxEvent.payload).where(
                    OutboxEvent.topic.in_(TOPICS), OutboxEvent.created_at >= started
                )
            ):
                changes.add_event(topic, payload or {})
            if changes:
                await push_changes(session, client, client.index(live), changes)
    except BaseException:
        with contextlib.suppress(*FAILURES):
            await client.delete_index_if_exists(fresh)
        raise
    finally:
        await backend.aclose()
    return count


async def reindex(app: Any) -> int:
    """Full Meilisearch rebuild for a running directory app (tests, embedded tools)."""
    return await rebuild(app.state.settings, app.state.db)
