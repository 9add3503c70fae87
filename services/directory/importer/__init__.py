"""data·inclusion v1 import: validate row by row, then upsert in bulk by (source, source id).

The work is set-based so a 100k-service file takes seconds: rows are parsed and validated in
Python (pure mapping, ``interop.datainclusion``), existing entries are read back in batches of
keys, and the differences are written in bulk (``Bulk``: COPY on PostgreSQL). Services go
through in chunks of ``IMPORT_CHUNK``: the next chunk is parsed in a worker thread while the
current one is written and indexed. A row equal to what is stored is ``unchanged``: no write, no
version bump, no history row, no event. Created and updated entries get a history row and an
outbox event (``structure.upserted`` / ``service.upserted``) in the same transaction.

Services name their structure by (source, ``structure_id``): a structure of the same file, or
one already in the directory. The caller owns the transaction: nothing here commits, so the API
(one transaction per request) and the CLI (commit at the end) share the same code.

Scoping: ``allowed_structure_id`` restricts an import to one existing structure and its services
(API clients and structure admins); rows outside it are rejected, not written.

Parts: ``parsing`` (rows → records, in worker threads), ``writing`` (records → rows, history
and events), ``bulk`` (set-based SQL), ``documents`` (search documents of new services),
``report`` (counts and errors).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.importer.documents import Background, Documents
from services.directory.importer.parsing import ServiceParser, parse_structures, row_numbers
from services.directory.importer.report import ImportReport, KindCounts
from services.directory.importer.writing import Upsert
from services.directory.search import indexing
from services.kernel.clock import utcnow
from services.kernel.db import table_statistics

# Services are parsed, written and indexed this many at a time: the next chunk is parsed in a
# worker thread while the current one is written (the thread has the CPU while the import
# waits on the database).
IMPORT_CHUNK = 5000

__all__ = ["IMPORT_CHUNK", "ImportReport", "KindCounts", "import_datainclusion"]


async def import_datainclusion(
    session: AsyncSession,
    structures: Sequence[Mapping[str, Any]],
    services: Sequence[Mapping[str, Any]],
    *,
    actor: str | None = None,
    actor_structure_id: uuid.UUID | None = None,
    default_source: str | None = None,
    structure_rows: Sequence[int] | None = None,
    service_rows: Sequence[int] | None = None,
    allowed_structure_id: uuid.UUID | None = None,
) -> ImportReport:
    """Upsert data·inclusion v1 rows; invalid rows are reported and never half-applied.

    ``structure_rows`` / ``service_rows`` give each row's number in its file (default: 1-based
    position). Nothing is committed here.
    """
    report = ImportReport()
    now = utcnow()
    context = Upsert(session, report, now, actor, actor_structure_id, allowed_structure_id)

    search = indexing.IndexRefresh(session)
    parser = ServiceParser(default_source)
    numbers = row_numbers(len(services), service_rows)
    chunks = [
        (services[start : start + IMPORT_CHUNK], numbers[start : start + IMPORT_CHUNK])
        for start in range(0, len(services), IMPORT_CHUNK)
    ]
    background = Background()
    try:
        # The first chunk of services is parsed while the structures are written.
        parsing = background.start(parser.parse, *chunks[0]) if chunks else None
        records = parse_structures(structures, structure_rows, default_source, report)
        structure_ids = await context.upsert_structures(records)
        documents: list[asyncio.Future[Documents]] = []
        for position in range(len(chunks)):
            assert parsing is not None
            parsed = await parsing
            following = chunks[position + 1] if position + 1 < len(chunks) else None
            parsing = background.start(parser.parse, *following) if following else None
            documents += await context.import_services(parsed, structure_ids, search, background)
            # A chunk's new documents are made while the next chunk is written.
            while len(documents) > 1:
                await search.add_documents(*await documents.pop(0))
        for built in documents:
            await search.add_documents(*await built)
    finally:
        background.cancel()
    await context.flush_side_tables()
    # Then what the structures' changes touch: their other services, and the structures.
    await search.add_structures(context.changed_structures)
    await search.finish()
    await table_statistics(session).refresh()
    report.errors.sort(key=lambda e: (e.kind != "structure", e.row))
    report.total()
    return report
