"""The directory's public API, as the pages use it (``/directory/v1``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

import msgspec

from services.web.clients.base import ApiClient, Params

PREFIX = "/directory/v1"
T = TypeVar("T")
Kind = Literal["services", "structures", "places"]


class LinkStatus(msgspec.Struct, kw_only=True):
    field: str
    url: str
    state: str
    last_checked_at: datetime | None = None


class Session(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    place_id: uuid.UUID
    opening_hours: str | None = None
    note: str | None = None


class Slot(msgspec.Struct, kw_only=True):
    starts_at: datetime
    ends_at: datetime
    note: str | None = None


class Structure(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    status: str
    accepts_referrals: bool = True
    siret: str | None = None
    typology: str | None = None
    parent_id: uuid.UUID | None = None
    networks: list[str] = []
    labels: list[str] = []
    description: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    opening_hours: str | None = None
    accessibility_url: str | None = None
    address: str | None = None
    address_complement: str | None = None
    postal_code: str | None = None
    commune_code: str | None = None
    commune: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    updated_at: datetime | None = None
    verified_at: datetime | None = None
    stale: bool = False
    version: int = 1
    links: list[LinkStatus] = []


class Service(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    structure_id: uuid.UUID
    name: str
    status: str
    capacity_status: str
    accepts_referrals: bool = True
    referral_response_days: int | None = None
    thematiques: list[str] = []
    description: str = ""
    type: str | None = None
    publics: list[str] = []
    publics_details: str | None = None
    fees: str | None = None
    fees_details: str | None = None
    access_conditions: str | None = None
    documents_to_bring: list[str] = []
    reception_modes: list[str] = []
    appointment_required: bool | None = None
    appointment_url: str | None = None
    appointment_slots: list[Slot] = []
    referral_modes: list[str] = []
    referable_by: list[str] = []
    referral_url: str | None = None
    referral_phone: str | None = None
    referral_email: str | None = None
    referral_details: str | None = None
    opening_hours: str | None = None
    capacity_until: date | None = None
    contact_public: bool = False
    contact_hidden: bool = False
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    eligibility_zones: list[str] = []
    sessions: list[Session] = []
    address: str | None = None
    address_complement: str | None = None
    postal_code: str | None = None
    commune_code: str | None = None
    commune: str | None = None
    updated_at: datetime | None = None
    verified_at: datetime | None = None
    stale: bool = False
    version: int = 1
    links: list[LinkStatus] = []


class Place(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    structure_id: uuid.UUID
    name: str
    status: str
    description: str | None = None
    opening_hours: str | None = None
    address: str | None = None
    address_complement: str | None = None
    postal_code: str | None = None
    commune_code: str | None = None
    commune: str | None = None
    updated_at: datetime | None = None
    verified_at: datetime | None = None
    stale: bool = False
    version: int = 1


class ReviewItem(msgspec.Struct, kw_only=True):
    """An entry of my structure to look at, and why (the directory's review rules)."""

    entity_type: Literal["structure", "service"]
    id: uuid.UUID
    structure_id: uuid.UUID
    name: str
    status: str
    reasons: list[str] = []
    capacity_status: str | None = None
    capacity_confirmed_at: datetime | None = None
    links: list[LinkStatus] = []


class Highlights(msgspec.Struct, kw_only=True):
    name: str | None = None
    description: str | None = None


class HitPosition(msgspec.Struct, kw_only=True):
    latitude: float
    longitude: float
    # "address", "geocoded" (the address's position, found by the geocoder), or "commune":
    # approximate, the commune's reference point.
    precision: str


class ServiceHit(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    structure_id: uuid.UUID
    structure_name: str
    name: str
    description: str
    type: str | None = None
    thematiques: list[str] = []
    publics: list[str] = []
    fees: str | None = None
    reception_modes: list[str] = []
    appointment_required: bool | None = None
    capacity_status: str
    accepts_referrals: bool = True
    status: str
    commune: str | None = None
    position: HitPosition | None = None
    distance_km: float | None = None
    # Received only remotely: no distance applies.
    remote_only: bool = False
    stale: bool = False
    updated_at: datetime
    verified_at: datetime | None = None
    highlights: Highlights | None = None

    @property
    def approximate(self) -> bool:
        """The distance is measured to the commune's reference point, not to an address."""
        return self.position is not None and self.position.precision == "commune"


class SearchPage(msgspec.Struct, Generic[T], kw_only=True):
    items: list[T]
    total: int
    total_exact: bool = True
    facets: dict[str, dict[str, int]] = {}
    next_cursor: str | None = None
    corrections: dict[str, list[str]] = {}


class Page(msgspec.Struct, Generic[T], kw_only=True):
    items: list[T]
    next_cursor: str | None = None


class HistoryEntry(msgspec.Struct, kw_only=True):
    action: str
    at: datetime
    changes: dict[str, Any] = {}


class Area(msgspec.Struct, kw_only=True):
    code: str
    name: str


class Commune(msgspec.Struct, kw_only=True):
    code: str
    name: str
    postal_codes: list[str] = []
    departement: Area | None = None


class Term(msgspec.Struct, kw_only=True):
    value: str
    label: str
    description: str | None = None


class Taxonomy(msgspec.Struct, kw_only=True):
    name: str
    terms: list[Term]


class DirectoryApi(ApiClient):
    async def search_services(self, params: Params) -> SearchPage[ServiceHit]:
        return await self.get(f"{PREFIX}/search/services", SearchPage[ServiceHit], params=params)

    async def service(self, service_id: uuid.UUID) -> tuple[Service, str]:
        return await self.get_tagged(f"{PREFIX}/services/{service_id}", Service)

    async def structure(self, structure_id: uuid.UUID) -> tuple[Structure, str]:
        return await self.get_tagged(f"{PREFIX}/structures/{structure_id}", Structure)

    async def place(self, place_id: uuid.UUID) -> tuple[Place, str]:
        return await self.get_tagged(f"{PREFIX}/places/{place_id}", Place)

    async def services_of(
        self, structure_id: uuid.UUID, statuses: tuple[str, ...] = ("published",)
    ) -> list[Service]:
        page = await self.get(
            f"{PREFIX}/services",
            Page[Service],
            params={"structure_id": str(structure_id), "status": list(statuses), "limit": 200},
        )
        return page.items

    async def places_of(
        self, structure_id: uuid.UUID, statuses: tuple[str, ...] = ("published",)
    ) -> list[Place]:
        page = await self.get(
            f"{PREFIX}/places",
            Page[Place],
            params={"structure_id": str(structure_id), "status": list(statuses), "limit": 200},
        )
        return page.items

    async def to_review(self, structure_id: uuid.UUID, limit: int = 50) -> Page[ReviewItem]:
        """The structure's entries needing a look: stale, never confirmed, a broken link, a
        capacity not stated for a month (the API's default)."""
        return await self.get(
            f"{PREFIX}/structures/{structure_id}/review", Page[ReviewItem], params={"limit": limit}
        )

    async def history(self, kind: Kind, entry_id: uuid.UUID) -> list[HistoryEntry]:
        page = await self.get(
            f"{PREFIX}/{kind}/{entry_id}/history", Page[HistoryEntry], params={"limit": 50}
        )
        return page.items

    async def update_service(
        self, service_id: uuid.UUID, etag: str, changes: dict[str, Any]
    ) -> tuple[Service, str]:
        return await self.write(
            "PATCH", f"{PREFIX}/services/{service_id}", Service, json=changes, etag=etag
        )

    async def update_structure(
        self, structure_id: uuid.UUID, etag: str, changes: dict[str, Any]
    ) -> tuple[Structure, str]:
        return await self.write(
            "PATCH", f"{PREFIX}/structures/{structure_id}", Structure, json=changes, etag=etag
        )

    async def update_place(
        self, place_id: uuid.UUID, etag: str, changes: dict[str, Any]
    ) -> tuple[Place, str]:
        return await self.write(
            "PATCH", f"{PREFIX}/places/{place_id}", Place, json=changes, etag=etag
        )

    async def act(self, kind: Kind, entry_id: uuid.UUID, action: str) -> None:
        """``verify`` (« à jour »), ``publish`` or ``unpublish`` an entry."""
        await self.send("POST", f"{PREFIX}/{kind}/{entry_id}/{action}")

    async def communes(self, text: str, limit: int = 10) -> list[Commune]:
        return await self.get(
            f"{PREFIX}/communes", list[Commune], params={"q": text, "limit": limit}
        )

    async def communes_by_code(self, code: str) -> list[Commune]:
        return await self.get(f"{PREFIX}/communes/{code}", list[Commune])

    async def taxonomy(self, name: str) -> Taxonomy:
        return await self.get(f"{PREFIX}/taxonomies/{name}", Taxonomy)
