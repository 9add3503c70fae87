"""The directory outbox → the primary search backend: the worker job ``directory.search-sync``.

Each run claims the outbox events of services and structures (``TOPICS``). With Meilisearch
their entities' current documents are pushed (``meili_feed.push_events``) and the events marked
processed; when Meilisearch cannot take them they are retried with backoff (search meanwhile
falls back to the database once they are older than the maximum lag: ``meili``). Without
Meilisearch nothing else consumes them: they are marked processed at once, and neither
``meili_feed`` nor the Meilisearch SDK is imported.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog

from services.directory.models import OutboxEvent
from services.directory.search.backend import SearchUnavailable, primary_backend
from services.kernel.clock import utcnow
from services.kernel.db import Database
from services.kernel.outbox import claim_batch

log = structlog.get_logger("relais.search.meili")

TOPICS = ("service.upserted", "service.archived", "structure.upserted", "structure.archived")
SYNC_BATCH = 200
SYNC_MAX_BATCHES = 20
MAX_BACKOFF_SECONDS = 60


async def sync_outbox(app: Any, *, wait: bool = False) -> int:
    """Push the directory changes waiting in the outbox to Meilisearch; mark them processed.

    Returns how many events were handled. Without Meilisearch the events are only marked
    processed. ``wait``: keep going until no due event is left (tests, ``relais reindex``);
    otherwise at most ``SYNC_MAX_BATCHES`` batches per run."""
    db: Database = app.state.db
    backend = primary_backend(app.state)
    if backend is not None:
        # Meilisearch's feed and SDK, imported only when it is configured.
        from services.directory.search import meili_feed
    handled = 0
    batches = 0
    while wait or batches < SYNC_MAX_BATCHES:
        batches += 1
        async with db.session() as session:
            events = await claim_batch(session, OutboxEvent, topics=list(TOPICS), limit=SYNC_BATCH)
            if not events:
                break
            now = utcnow()
            if backend is not None:
                try:
                    await meili_feed.push_events(backend, session, events)
                except SearchUnavailable as exc:
                    for event in events:
                        event.attempts = (event.attempts or 0) + 1
                        event.last_error = f"meilisearch: {exc}"[:500]
                        delay = min(MAX_BACKOFF_SECONDS, 2 ** min(event.attempts, 6))
                        event.available_at = now + timedelta(seconds=delay)
                    log.warning("meilisearch sync failed", error=str(exc), events=len(events))
                    break
            for event in events:
                event.processed_at = now
                event.last_error = None
            handled += len(events)
        if len(events) < SYNC_BATCH:
            break
    return handled


async def sync_job(app: Any) -> int:
    """Worker job: the outbox → Meilisearch feed (see ``sync_outbox``)."""
    return await sync_outbox(app)
