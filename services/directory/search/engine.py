"""Search flow: resolve the parameters, ask a backend (Meilisearch when configured, with the
database as fallback), read the page's entries, build the page and its cursor.

Controllers stay thin: they hand raw query parameters here (``resolve.SearchParams``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.search.backend import (
    POSITION_KEY_BASE,
    SearchBackend,
    SearchResult,
    SearchUnavailable,
)
from services.directory.search.hydrate import hydrate
from services.directory.search.postgres import PostgresSearchBackend
from services.directory.search.resolve import SearchParams, fingerprint, resolve
from services.directory.search.schemas import SearchPage
from services.directory.search.sqlite import SqliteSearchBackend
from services.kernel.identity import Caller
from services.kernel.pagination import encode_cursor, next_link
from services.kernel.settings import Settings

BACKEND_HEADER = "X-Search-Backend"
FALLBACK_HEADER = "X-Search-Fallback"
NO_POSITION = 1000.0  # in cursors: "no origin"


@dataclass
class Outcome:
    page: SearchPage[Any]
    headers: dict[str, str]


def database_backend(session: AsyncSession) -> PostgresSearchBackend | SqliteSearchBackend:
    """The search backend of the session's own database."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        return PostgresSearchBackend(session)
    return SqliteSearchBackend(session)


async def search(
    params: SearchParams,
    caller: Caller | None,
    settings: Settings,
    session: AsyncSession,
    primary: SearchBackend | None = None,
) -> Outcome:
    """Run a search on ``primary`` (Meilisearch) when given, on the database otherwise or when
    the primary cannot answer (the response says so in a header)."""
    request = resolve(params, caller, settings)
    headers: dict[str, str] = {}
    result: SearchResult | None = None
    backend_name = ""
    if primary is not None:
        try:
            result = await primary.search(request)
            backend_name = primary.name
        except SearchUnavailable as exc:
            headers[FALLBACK_HEADER] = f"{primary.name}: {exc}"[:200]
    if result is None:
        fallback = database_backend(session)
        if request.after is not None and request.after.key >= POSITION_KEY_BASE:
            # A Meilisearch cursor (a position) means nothing to the database's keyset: the
            # database answers from the first page, and says so.
            request = replace(request, after=None)
            headers[FALLBACK_HEADER] = (
                headers.get(FALLBACK_HEADER, "") + "; pagination reprise au début"
            ).lstrip("; ")[:200]
        result = await fallback.search(request)
        backend_name = fallback.name
    elif not result.corrections and not request.query.empty:
        # Meilisearch tolerates typos without naming them: the same vocabulary lookup as the
        # database backends names the corrections.
        _, result.corrections = await database_backend(session).correct(request.query)
    headers[BACKEND_HEADER] = backend_name
    items = await hydrate(session, request, result, with_highlights=params.highlight)
    cursor = None
    if result.has_more and result.hits:
        last = result.hits[-1]
        origin = request.origin
        cursor = encode_cursor(
            [
                request.as_of.isoformat(),
                last.key,
                str(last.entity_id),
                fingerprint(params),
                origin.latitude if origin else NO_POSITION,
                origin.longitude if origin else NO_POSITION,
            ]
        )
    page: SearchPage[Any] = SearchPage(
        items=items,
        total=result.total,
        total_exact=result.total_exact,
        facets=result.facets,
        facets_exact=result.facets_exact,
        next=next_link(settings.base_url, params.path, params.query_string(), cursor),
        next_cursor=cursor,
        backend=backend_name,
        corrections=result.corrections,
    )
    return Outcome(page=page, headers=headers)
