"""Meilisearch backend (when ``MEILI_URL`` is set), fed from the directory outbox.

This module and ``meili_feed`` import the Meilisearch SDK: they are imported only when
``MEILI_URL`` is set (``backend.create_primary``, ``feed.sync_outbox``, ``relais reindex``), so a
directory without Meilisearch does not load it. The SDK's errors (``FAILURES``) are caught
here and in ``meili_feed``, and turned into ``SearchUnavailable``.

One index (``{MEILI_INDEX_PREFIX}directory``) holds services and structures (``kind``). Its
documents are built from the database search tables (``search_documents`` + ``search_facets``),
which the write paths keep in step in their own transaction: Meilisearch sees exactly what the
database backend sees, analysed by Meilisearch itself (typos, prefixes, French words), with the
synonyms and stop words of ``synonyms.toml`` / ``stopwords-fr.txt``.

- Search returns ids, positions and distances only; the engine hydrates and highlights the page
  from the database, so every backend gives the same response shape.
- Ranking: Meilisearch's text rules (words, typo, proximity, attribute order name > topics >
  body, exactness), then capacity (accepting > waiting list > full) and the last review date
  (``max(updated_at, verified_at)``); the database's freshness bonus depends on "now", so here a
  more recent review simply ranks higher. With ``sort=distance`` the ``sort`` rule (placed right
  after ``words``) orders by ``_geoPoint`` among the entries matching the query.
- Pagination: Meilisearch has no keyset, so the cursor key is an absolute position
  (``POSITION_KEY_BASE`` + position); the next page is read from a window around it and starts
  right after the cursor's entry wherever it now is (entries added or removed before it while
  paging move it by up to ``WINDOW_SLACK``), so pages have no duplicates or gaps. Deep pages stop
  at ``MAX_TOTAL_HITS``.
- Availability: any error, a timeout, or a directory change older than
  ``MEILI_MAX_LAG_SECONDS`` still waiting in the outbox raises ``SearchUnavailable``; the engine
  then answers from the database and says so in ``X-Search-Fallback``. After a connection
  failure Meilisearch is not asked again for ``RETRY_AFTER_SECONDS``.
- Feeding: ``feed.sync_outbox`` (worker job ``directory.search-sync``) claims the outbox events of
  services and structures, pushes their current documents (or deletions), waits until
  Meilisearch has applied them and marks the events processed. Without Meilisearch, or while the
  live index does not exist (before the first ``relais reindex``, after a lost volume), the
  events are marked processed at once: nothing else consumes them, and ``relais reindex``
  builds the whole index from the database anyway (searches fail over to the database until
  then, the missing index being an error). On failure events are retried with
  backoff; meanwhile search falls back to the database once they are older than the maximum lag.
- ``reindex``: full rebuild into a new index, atomic swap with the live one, old one deleted;
  changes made during the rebuild are pushed again after the swap.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import sqlalchemy as sa
import structlog
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import MeilisearchError
from meilisearch_python_sdk.index import AsyncIndex
from meilisearch_python_sdk.models.search import SearchResults

from services.directory.models import OutboxEvent
from services.directory.search import backend as b
from services.directory.search.backend import (
    Hit,
    SearchRequest,
    SearchResult,
    SearchUnavailable,
)
from services.directory.search.feed import TOPICS
from services.kernel.clock import utcnow
from services.kernel.db import Database
from services.kernel.settings import Settings

log = structlog.get_logger("relais.search.meili")

INDEX_SUFFIX = "directory"
PRIMARY_KEY = "id"
POSITION_KEY_BASE = b.POSITION_KEY_BASE
WINDOW_SLACK = 20
MAX_TOTAL_HITS = 10_000
SEARCH_TIMEOUT_SECONDS = 2.0
HTTP_TIMEOUT_SECONDS = 10
TASK_TIMEOUT_MS = 30_000
RETRY_AFTER_SECONDS = 5.0
LAG_CHECK_SECONDS = 1.0
REINDEX_BATCH = 2_000
CAPACITY_RANK = {"accepting": 2, "waiting_list": 1, "full": 0}
LIST_FACETS = ("thematique", "categorie", "public", "reception", "network", "zone")
FACET_ATTRIBUTES = tuple(b.FACET_NAMES.values())  # categorie, type, public, fees, reception
SEARCHABLE = ("name_text", "topic_text", "body_text")
FILTERABLE = (
    "kind",
    "status",
    "structure_id",
    "capacity_status",
    "type",
    "fees",
    "appointment_required",
    "typology",
    "remote",
    "updated_at",
    "verified_at",
    *LIST_FACETS,
    "_geo",
)
SORTABLE = ("_geo", "capacity_rank", "reviewed_at")
RANKING_RULES = (
    "words",
    "sort",
    "typo",
    "proximity",
    "attribute",
    "exactness",
    "capacity_rank:desc",
    "reviewed_at:desc",
)
# Meilisearch errors, transport errors (the SDK speaks through httpx2) and timeouts: all mean
# "cannot answer now".
FAILURES: tuple[type[BaseException], ...] = (
    MeilisearchError,
    httpx2.HTTPError,
    asyncio.TimeoutError,
    OSError,
)


def index_name(settings: Settings) -> str:
    return f"{settings.meili_index_prefix}{INDEX_SUFFIX}"


def document_id(kind: str, entity_id: uuid.UUID | str) -> str:
    """Meilisearch ids allow ``[A-Za-z0-9_-]``: ``service-<uuid>``."""
    return f"{kind}-{entity_id}"


# --- documents and settings (pure) ---------------------------------------------------------------


def timestamp(value: datetime | None) -> int:
    if value is None:
        return 0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def quote(value: str) -> str:
    """A Meilisearch filter string literal: double quotes, ``\\`` and ``"`` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _in(attribute: str, values: Collection[str]) -> str:
    return f"{attribute} IN [{', '.join(quote(v) for v in sorted(values))}]"


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError("filter numbers must be finite")
    return repr(float(value))


def filter_expression(request: SearchRequest) -> list[str]:
    """The request's filters as Meilisearch filter expressions (ANDed by Meilisearch).

    Every user value is quoted (``quote``); numbers come from validated floats."""
    filters: list[str] = [f"kind = {quote(request.kind)}"]
    visible = _in("status", request.statuses) if request.statuses else "status IN []"
    if request.own_structure is not None and request.own_statuses:
        own = (
            f"(structure_id = {quote(str(request.own_structure))} AND "
            f"{_in('status', request.own_statuses)})"
        )
        visible = f"({visible} OR {own})"
    filters.append(visible)
    for attribute, values in (
        ("thematique", request.thematiques),
        ("public", request.publics),
        ("reception", request.reception_modes),
        ("network", request.networks),
        ("type", request.types),
        ("fees", request.fees),
        ("typology", request.typologies),
        ("capacity_status", request.capacity),
    ):
        if values:
            filters.append(_in(attribute, values))
    if request.appointment_required is not None:
        filters.append(f"appointment_required = {str(request.appointment_required).lower()}")
    if request.exclude_stale:
        since = timestamp(request.stale_before)
        filters.append(f"(updated_at >= {since} OR verified_at >= {since})")
    if request.zones is not None:
        filters.append(_in("zone", request.zones))
    if request.origin is not None and request.radius_km is not None:
        near = (
            f"_geoRadius({_number(request.origin.latitude)}, {_number(request.origin.longitude)}, "
            f"{_number(request.radius_km * 1000)})"
        )
        zones = request.zones if request.zones is not None else frozenset({"france"})
        filters.append(f"({near} OR (remote = true AND {_in('zone', zones)}))")
    return filters


def sort_expression(request: SearchRequest) -> list[str] | None:
    if request.sort == "distance" and request.origin is not None:
        lat, lon = _number(request.origin.latitude), _number(request.origin.longitude)
        return [f"_geoPoint({lat}, {lon}):asc"]
    return None


_PHRASE_OR_NEGATION = re.compile(r'"|(?:(?<=\s)|^)-+')


def query_text(request: SearchRequest) -> str | None:
    """The query as people typed it (Meilisearch matches synonyms and stop words on the real
    words), minus Meilisearch's only syntax: ``"phrases"`` and ``-negation``. None when the query
    has no content word (a placeholder search, like the database backends' "no text")."""
    if request.query.empty:
        return None
    text = _PHRASE_OR_NEGATION.sub(" ", request.query.text)
    return " ".join(text.split()) or None


def distance_km(request: SearchRequest, hit: Mapping[str, Any]) -> float | None:
    """Same equirectangular distance as the database backends."""
    origin = request.origin
    geo = hit.get("_geo")
    if origin is None or not isinstance(geo, Mapping):
        return None
    try:
        lat, lon = float(geo["lat"]), float(geo["lng"])
    except (KeyError, TypeError, ValueError):
        return None
    ky = b.KM_PER_DEGREE
    kx = b.KM_PER_DEGREE * math.cos(math.radians(origin.latitude))
    return math.hypot((lat - origin.latitude) * ky, (lon - origin.longitude) * kx)


def position_of(after: b.After | None) -> int | None:
    """The absolute position in a Meilisearch cursor key; None for a database cursor."""
    if after is None or after.key < POSITION_KEY_BASE:
        return None
    return round(after.key - POSITION_KEY_BASE)


def facet_counts(distribution: Mapping[str, Any] | None) -> dict[str, dict[str, int]]:
    facets: dict[str, dict[str, int]] = {name: {} for name in b.FACET_NAMES}
    by_attribute = {v: k for k, v in b.FACET_NAMES.items()}
    for attribute, values in (distribution or {}).items():
        name = by_attribute.get(attribute)
        if name is None or not isinstance(values, Mapping):
            continue
        facets[name] = {str(v): int(c) for v, c in values.items() if v and int(c) > 0}
    return {
        name: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
        for name, values in facets.items()
    }


# --- search ----------------------------------------------------------------------------------


@dataclass
class MeiliSearchBackend:
    """The primary backend of the search endpoints when Meilisearch is configured."""

    settings: Settings
    db: Database
    name: str = "meilisearch"
    client: AsyncClient = field(init=False)
    _down_until: float = field(default=0.0, init=False)
    _lag_checked_at: float = field(default=-math.inf, init=False)
    _lagging: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.client = AsyncClient(
            self.settings.meili_url,
            self.settings.meili_key or None,
            timeout=HTTP_TIMEOUT_SECONDS,
        )

    @property
    def index_uid(self) -> str:
        return index_name(self.settings)

    def index(self) -> AsyncIndex:
        return self.client.index(self.index_uid)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def close(self, _app: Any = None) -> None:
        """Shutdown hook of the directory app."""
        await self.aclose()

    async def live_index(self) -> AsyncIndex | None:
        """The live index, or None when it does not exist. Only ``relais reindex`` creates it
        (with its settings and every document): adding documents to a missing index would
        create a misconfigured, partial one that answers searches wrongly instead of failing
        over to the database."""
        if await self.client.get_raw_index(self.index_uid) is None:
            return None
        return self.index()

    async def lagging_events(self) -> int:
        """Search-relevant outbox events older than the maximum lag and still not indexed."""
        now = time.monotonic()
        if now - self._lag_checked_at < LAG_CHECK_SECONDS:
            return self._lagging
        limit = utcnow() - timedelta(seconds=self.settings.meili_max_lag_seconds)
        async with self.db.session() as session:
            count = await session.scalar(
                sa.select(sa.func.count()).select_from(
                    sa.select(OutboxEvent.id)
                    .where(
                        OutboxEvent.processed_at.is_(None),
                        OutboxEvent.topic.in_(TOPICS),
                        OutboxEvent.created_at < limit,
                    )
                    .limit(1000)
                    .subquery()
                )
            )
        self._lagging = int(count or 0)
        self._lag_checked_at = now
        return self._lagging

    async def search(self, request: SearchRequest) -> SearchResult:
        if time.monotonic() < self._down_until:
            raise SearchUnavailable("indisponible (nouvel essai dans quelques secondes)")
        start = position_of(request.after)
        if request.after is not None and start is None:
            # A cursor of the database backend: that backend continues its own keyset.
            raise SearchUnavailable("curseur de la base de données, pagination poursuivie")
        lagging = await self.lagging_events()
        if lagging:
            raise SearchUnavailable(f"index en retard ({lagging} modifications en attente)")
        try:
            return await asyncio.wait_for(self._search(request, start), SEARCH_TIMEOUT_SECONDS)
        except FAILURES as exc:
            self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
            log.warning("meilisearch unavailable", error=type(exc).__name__)
            raise SearchUnavailable(f"indisponible ({type(exc).__name__})") from None

    async def _query(
        self, request: SearchRequest, offset: int, limit: int, strategy: str
    ) -> SearchResults[Any]:
        return await self.index().search(
            query_text(request),
            offset=offset,
            limit=limit,
            filter=filter_expression(request),  # type: ignore[arg-type]
            facets=list(FACET_ATTRIBUTES) if request.facets else None,
            attributes_to_retrieve=["entity_id", "_geo"],
            sort=sort_expression(request),
            matching_strategy="all" if strategy == "all" else "last",
        )

    async def _search(self, request: SearchRequest, start: int | None) -> SearchResult:
        position = 0 if start is None else start + 1
        window_start = max(0, position - WINDOW_SLACK) if start is not None else 0
        fetch = (position - window_start) + request.limit + 1
        if start is not None:
            fetch += WINDOW_SLACK + 1
        fetch = max(1, min(fetch, MAX_TOTAL_HITS - window_start))
        strategy = "all"
        found = await self._query(request, window_start, fetch, strategy)
        total = _total(found)
        if total == 0 and len(request.query.clauses) > 1:
            # No entry has every word: rank entries by how many words they have.
            strategy = "last"
            found = await self._query(request, window_start, fetch, strategy)
            total = _total(found)
        hits: list[Mapping[str, Any]] = list(found.hits)
        begin = position - window_start
        if request.after is not None:
            anchor = str(request.after.entity_id)
            for i, hit in enumerate(hits):
                if hit.get("entity_id") == anchor:
                    begin = i + 1
                    break
        page = hits[begin : begin + request.limit]
        result_hits = []
        for offset, hit in enumerate(page):
            absolute = window_start + begin + offset
            result_hits.append(
                Hit(
                    entity_id=uuid.UUID(str(hit["entity_id"])),
                    score=max(0, total - absolute),
                    distance_km=distance_km(request, hit),
                    key=POSITION_KEY_BASE + absolute,
                )
            )
        more = len(hits) > begin + request.limit and window_start + begin + request.limit < (
            MAX_TOTAL_HITS
        )
        return SearchResult(
            hits=result_hits,
            total=total,
            facets=facet_counts(found.facet_distribution) if request.facets else {},
            has_more=more,
            total_exact=found.total_hits is not None,
        )


def _total(found: SearchResults[Any]) -> int:
    if found.total_hits is not None:
        return found.total_hits
    return found.estimated_total_hits or 0
