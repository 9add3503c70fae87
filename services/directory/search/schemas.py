"""Public shapes of search responses (msgspec): a page of hits, facets, and the backend used."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Generic, TypeVar

import msgspec

from services.directory.schemas import Position

T = TypeVar("T")

_HIT_POSITION = (
    "Where distances are measured from: the entry's coordinates (precision `address`), else "
    "the position of its address found by the geocoder (precision `geocoded`), for a service "
    "without an address of its own its structure's, else the reference point of the commune "
    "(precision `commune`, approximate: « centre de la commune »). `latitude` and `longitude` "
    "repeat it."
)
_DISTANCE = (
    "Kilometres as the crow flies from the origin (`lat`/`lon`, or the reference point of "
    "`commune`) to `position`. Null without an origin, for an entry without a position, and "
    "for a service received only remotely (`remote_only`): a remote service is not near anyone."
)


class Highlights(msgspec.Struct, kw_only=True):
    """HTML-escaped text with the matched words in ``<mark>…</mark>``."""

    name: str | None = None
    description: str | None = None


class ServiceHit(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    structure_id: uuid.UUID
    structure_name: str
    name: str
    description: str
    type: str | None
    thematiques: list[str]
    publics: list[str]
    fees: str | None
    reception_modes: list[str]
    appointment_required: bool | None
    capacity_status: str
    accepts_referrals: bool
    status: str
    commune_code: str | None
    commune: str | None
    latitude: float | None
    longitude: float | None
    position: Annotated[Position | None, msgspec.Meta(description=_HIT_POSITION)] = None
    distance_km: Annotated[float | None, msgspec.Meta(description=_DISTANCE)]
    remote_only: Annotated[
        bool,
        msgspec.Meta(
            description="Received only remotely (« à distance », not « en présentiel »): no "
            "distance applies; sorted by distance, such services come after the located ones."
        ),
    ] = False
    stale: bool
    updated_at: datetime
    verified_at: datetime | None
    score: int
    highlights: Highlights | None = None


class StructureHit(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    typology: str | None
    networks: list[str]
    description: str | None
    thematiques: list[str]
    accepts_referrals: bool
    status: str
    commune_code: str | None
    commune: str | None
    latitude: float | None
    longitude: float | None
    position: Annotated[Position | None, msgspec.Meta(description=_HIT_POSITION)] = None
    distance_km: Annotated[float | None, msgspec.Meta(description=_DISTANCE)]
    stale: bool
    updated_at: datetime
    verified_at: datetime | None
    score: int
    highlights: Highlights | None = None


class SearchPage(msgspec.Struct, Generic[T], kw_only=True):
    items: list[T]
    total: Annotated[
        int,
        msgspec.Meta(
            description="Number of matches. When `total_exact` is false, counting stopped "
            "early (large result sets): there are at least that many."
        ),
    ]
    total_exact: Annotated[
        bool,
        msgspec.Meta(
            description="False when `total` is a lower bound (the database backends count "
            "exactly up to 1,000 matches; Meilisearch gives an estimate)."
        ),
    ] = True
    facets: Annotated[
        dict[str, dict[str, int]],
        msgspec.Meta(description="Counts per value of each facet for the current query."),
    ]
    facets_exact: Annotated[
        bool,
        msgspec.Meta(
            description="False when the facet counts were taken over the first matches only "
            "(the same ones `total` counted): they are then lower bounds."
        ),
    ] = True
    next: str | None = None
    next_cursor: str | None = None
    backend: str
    # Query words unknown to the index, and the close words searched instead.
    corrections: dict[str, list[str]] = msgspec.field(default_factory=dict)
