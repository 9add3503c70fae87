"""The search backend interface: one request model, one result model, several engines.

A request is already validated and resolved (taxonomy values checked, thematique categories
expanded, commune → eligibility zones and position); a backend only finds, ranks, pages and
counts. Ranking is the same everywhere: an integer score (text relevance × 10 + quality), then
the entity id; or the distance, then the id. Both are keyset cursors, so pages never repeat or
skip an entry that did not change while the client was paging.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from services.directory.search.analysis import ParsedQuery
from services.kernel.db import Database
from services.kernel.settings import Settings

if TYPE_CHECKING:
    from services.directory.search.meili import MeiliSearchBackend

Kind = Literal["service", "structure"]
Sort = Literal["relevance", "distance"]

# facet name in responses -> facet rows in the index
FACET_NAMES = {
    "categorie": "categorie",
    "type": "type",
    "public": "public",
    "fees": "fees",
    "reception": "reception",
}

# Score components (see backend docs above); text weights per clause and field.
NAME_EXACT, NAME_FUZZY = 9, 8
TOPIC_EXACT, TOPIC_FUZZY = 6, 5
BODY_EXACT, BODY_FUZZY = 3, 2
TEXT_FACTOR = 10
VERIFIED_BONUS, FRESH_BONUS = 4, 2
ACCEPTING_BONUS, WAITING_BONUS = 3, 1
KM_PER_DEGREE = 111.195
# Cursor keys at or above this are positions (Meilisearch has no keyset); below, they are the
# database's sort keys (-score, or squared distance up to sql.NO_DISTANCE = 1e12).
POSITION_KEY_BASE = 1e13


@dataclass(frozen=True)
class Origin:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class After:
    """Keyset position: the sort key and id of the last entry of the previous page."""

    key: float
    entity_id: uuid.UUID


@dataclass(frozen=True)
class SearchRequest:
    kind: Kind
    query: ParsedQuery
    as_of: datetime
    stale_before: datetime
    statuses: frozenset[str] = frozenset({"published"})
    # Entries of these statuses are also visible for this structure (the caller's own drafts).
    own_structure: uuid.UUID | None = None
    own_statuses: frozenset[str] = frozenset()
    thematiques: frozenset[str] = frozenset()
    publics: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    fees: frozenset[str] = frozenset()
    reception_modes: frozenset[str] = frozenset()
    networks: frozenset[str] = frozenset()
    typologies: frozenset[str] = frozenset()
    capacity: frozenset[str] = frozenset()
    appointment_required: bool | None = None
    exclude_stale: bool = False
    zones: frozenset[str] | None = None
    origin: Origin | None = None
    radius_km: float | None = None
    sort: Sort = "relevance"
    limit: int = 20
    after: After | None = None
    facets: bool = True


@dataclass(frozen=True)
class Hit:
    entity_id: uuid.UUID
    score: int
    distance_km: float | None
    key: float


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    has_more: bool = False
    # Words of the query that matched nothing and were replaced by close known words.
    corrections: dict[str, list[str]] = field(default_factory=dict)
    # False when counting stopped early: ``total`` and the facet counts are then lower bounds.
    total_exact: bool = True
    facets_exact: bool = True


class SearchUnavailable(Exception):
    """The backend cannot answer now (down, lagging, misconfigured); use the fallback."""


class SearchBackend(Protocol):
    name: str

    async def search(self, request: SearchRequest) -> SearchResult: ...


def create_primary(settings: Settings, db: Database) -> MeiliSearchBackend | None:
    """The primary backend of the search endpoints: Meilisearch when ``MEILI_URL`` is set, else
    none (the database answers). Its module and SDK (``meili``, ``meili_feed``: some 11 MB
    resident) are imported here, and by the feed only when this returned one."""
    if not settings.meili_url:
        return None
    from services.directory.search.meili import MeiliSearchBackend

    return MeiliSearchBackend(settings, db)


def primary_backend(state: Any) -> SearchBackend | None:
    """The app's primary backend (``create_primary``), None without Meilisearch."""
    backend: SearchBackend | None = getattr(state, "search_primary", None)
    return backend
