"""Public contract of the directory's native API (msgspec Structs).

Field names are English snake_case; taxonomy values are data·inclusion v1 slugs (see
``services.kernel.reference.taxonomy``). Inputs forbid unknown fields. ``*Update`` structs are
PATCH bodies: a field left out is ``msgspec.UNSET`` ("not sent"), which differs from ``null``
("clear this value"). Lengths mirror the database columns so an oversize value is a 422, never a
database error; strings may not contain NUL characters (PostgreSQL cannot store them).

``StructureRead`` and ``ServiceRead`` carry the fields other services rely on
(docs/contracts.md): keep them stable.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.directory.domain.positions import Located
from services.kernel.reference.taxonomies import Term

# --- constrained scalar types -------------------------------------------------------------

_NO_NUL = r"^[^\x00]*$"


Name = Annotated[str, Meta(min_length=1, max_length=300, pattern=r"^[^\x00]*\S[^\x00]*$")]
ShortText = Annotated[str, Meta(max_length=500, pattern=_NO_NUL)]
LongText = Annotated[str, Meta(max_length=20_000, pattern=_NO_NUL)]
Slug = Annotated[str, Meta(max_length=100, pattern=_NO_NUL)]
Url = Annotated[str, Meta(max_length=2083, pattern=_NO_NUL)]
Email = Annotated[str, Meta(max_length=320, pattern=_NO_NUL)]
# A phone number as typed ("01 23 45 67 89", "+33 1 23…", "36 46"); stored and returned in E.164,
# or as its digits for a national short number (3230, 3646, 3919…).
Phone = Annotated[str, Meta(max_length=40, pattern=_NO_NUL)]
Siret = Annotated[str, Meta(max_length=20, pattern=_NO_NUL)]
PostalCode = Annotated[str, Meta(max_length=10, pattern=_NO_NUL)]
CommuneCode = Annotated[str, Meta(max_length=10, pattern=_NO_NUL)]
CommuneName = Annotated[str, Meta(max_length=200, pattern=_NO_NUL)]
OpeningHours = Annotated[str, Meta(max_length=1000, pattern=_NO_NUL)]
SourceName = Annotated[str, Meta(min_length=1, max_length=100, pattern=_NO_NUL)]
SourceId = Annotated[str, Meta(min_length=1, max_length=200, pattern=_NO_NUL)]
# commune:<insee> | epci:<siren> | departement:<code> | region:<code> | france
Zone = Annotated[str, Meta(max_length=32, pattern=_NO_NUL)]
Latitude = float
Longitude = float
ResponseDays = Annotated[int, Meta(ge=1, le=365)]
WeeklyHours = Annotated[float, Meta(ge=0, le=168)]
DurationWeeks = Annotated[int, Meta(ge=1, le=520)]
AwareDatetime = Annotated[datetime, Meta(tz=True)]

SlugList = Annotated[list[Slug], Meta(max_length=100)]
ZoneList = Annotated[list[Zone], Meta(max_length=500)]
TextList = Annotated[list[ShortText], Meta(max_length=100)]

Status = Literal["draft", "published", "suspended", "archived"]
# Statuses a client may ask for when creating an entry (later changes go through the
# publish / unpublish / suspend / archive actions, which apply the moderation rules).
InitialStatus = Literal["draft", "published"]
CapacityStatus = Literal["accepting", "waiting_list", "full"]
# What a phone number is (``services.directory.domain.phones.PhoneKind``).
PhoneKind = Literal[
    "geographic",
    "mobile",
    "voip",
    "toll_free",
    "shared_cost",
    "premium_rate",
    "short",
    "emergency",
    "other",
]

_INPUT = {"forbid_unknown_fields": True, "kw_only": True}


# --- shared parts ----------------------------------------------------------------------------


PositionPrecision = Literal["address", "geocoded", "commune"]
_POSITION_DOC = (
    "Where the entry is, for distances: its own coordinates (precision `address`), else the "
    "position of its address found by the geocoder (precision `geocoded`, when the geocoder is "
    "on), else the reference point of its commune (precision `commune`, approximate); null when "
    "none is known."
)


class Position(msgspec.Struct, kw_only=True):
    """Where an entry is for distances (WGS84 degrees)."""

    latitude: float
    longitude: float
    precision: Annotated[
        PositionPrecision,
        msgspec.Meta(
            description="`address`: the coordinates the entry holds (`latitude`/`longitude`), "
            "typed by its maintainers or given by its source. `geocoded`: address-level, the "
            "position of the entry's street address (house number, else street or lieu-dit) "
            "found by the geocoder (Base Adresse Nationale, when the deployment sets "
            "GEOCODER_URL), for an entry without coordinates; computed by Relais, not given by "
            "anyone. `commune`: approximate, the reference point of the entry's commune "
            "(« centre de la commune »), used when the entry has an INSEE code but neither "
            "(most imports, until the geocoder finds the address): distances from it rank "
            "nearby services, they do not route anyone."
        ),
    ]


def position_of(located: Located | None) -> Position | None:
    if located is None:
        return None
    return Position(
        latitude=located.latitude, longitude=located.longitude, precision=located.precision
    )


class LinkStatus(msgspec.Struct, kw_only=True):
    """Last known state of a URL of the entry, from the link checker (daily): ``dead`` after
    three failed checks spanning two days. Before that a failing link is ``failing`` only for
    the entry's structure and the moderators; others see it as of its last success (``ok``, or
    ``unchecked`` if it never worked)."""

    field: str
    url: str
    state: Literal["ok", "failing", "dead", "unchecked"]
    http_status: int | None = None
    last_checked_at: datetime | None = None
    last_ok_at: datetime | None = None


class AppointmentSlot(msgspec.Struct, **_INPUT):  # type: ignore[call-arg]
    """A published appointment slot (or recurring window when ``note`` explains it)."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: ShortText | None = None


class ServiceSessionInput(msgspec.Struct, **_INPUT):  # type: ignore[call-arg]
    """Where and when an itinerant service is held: a place of the same structure."""

    place_id: uuid.UUID
    opening_hours: OpeningHours | None = None
    note: ShortText | None = None


class ServiceSessionRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    place_id: uuid.UUID
    opening_hours: str | None = None
    note: str | None = None


# --- structures ------------------------------------------------------------------------------


class StructureCreate(msgspec.Struct, **_INPUT):  # type: ignore[call-arg]
    name: Name
    siret: Siret | None = None
    typology: Slug | None = None
    parent_id: uuid.UUID | None = None
    networks: SlugList = msgspec.field(default_factory=list)
    labels: TextList = msgspec.field(default_factory=list)
    description: LongText | None = None
    phone: Phone | None = None
    email: Email | None = None
    website: Url | None = None
    opening_hours: OpeningHours | None = None
    accessibility_url: Url | None = None
    accepts_referrals: bool = True
    address: ShortText | None = None
    address_complement: ShortText | None = None
    postal_code: PostalCode | None = None
    commune_code: CommuneCode | None = None
    commune: CommuneName | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    source: SourceName | None = None
    source_id: SourceId | None = None
    source_url: Url | None = None
    status: InitialStatus = "draft"


class StructureUpdate(msgspec.Struct, **_INPUT):  # type: ignore[call-arg]
    name: Name | UnsetType = UNSET
    siret: Siret | UnsetType | None = UNSET
    typology: Slug | UnsetType | None = UNSET
    parent_id: uuid.UUID | UnsetType | None = UNSET
    networks: SlugList | UnsetType = UNSET
    labels: TextList | UnsetType = UNSET
    description: LongText | UnsetType | None = UNSET
    phone: Phone | UnsetType | None = UNSET
    email: Email | UnsetType | None = UNSET
    website: Url | UnsetType | None = UNSET
    opening_hours: OpeningHours | UnsetType | None = UNSET
    accessibility_url: Url | UnsetType | None = UNSET
    accepts_referrals: bool | UnsetType = UNSET
    address: ShortText | UnsetType | None = UNSET
    address_complement: ShortText | UnsetType | None = UNSET
    postal_code: PostalCode | UnsetType | None = UNSET
    commune_code: CommuneCode | UnsetType | None = UNSET
    commune: CommuneName | UnsetType | None = UNSET
    latitude: Latitude | UnsetType | None = UNSET
    longitude: Longitude | UnsetType | None = UNSET
    source_url: Url | UnsetType | None = UNSET


class StructureRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    status: Status
    accepts_referrals: bool
    siret: str | None = None
    typology: str | None = None
    parent_id: uuid.UUID | None = None
    networks: list[str] = msgspec.field(default_factory=list)
    labels: list[str] = msgspec.field(default_factory=list)
    description: str | None = None
    phone: str | None = None
    phone_kind: PhoneKind | None = None
    email: str | None = None
    website: str | None = None
    opening_hours: str | None = None
    accessibility_url: str | None = None
    address: str | None = None
    address_complement: str | None = None
    postal_code: str | None = None
    commune_code: str | None = None
    commune: str | None = None
    departement_code: str | None = None
    region_code: str | None = None
    epci_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    position: Annotated[
        Position | None,
        msgspec.Meta(description=_POSITION_DOC),
    ] = None
    source: str | None = None
    source_id: str | None = None
    source_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    verified_at: datetime | None = None
    # When the content was last known right (edit or confirmation here, or the source's date for
    # an imported entry); ``stale`` when longer ago than the review period.
    reviewed_at: datetime | None = None
    stale: bool = False
    version: int = 1
    etag: str = ""
    links: list[LinkStatus] = msgspec.field(default_factory=list)


# --- services --------------------------------------------------------------------------------


class ServiceCreate(msgspec.Struct, **_INPUT):  # type: ignore[call-arg]
    structure_id: uuid.UUID
    name: Name
    description: LongText = ""
    type: Slug | None = None
    thematiques: SlugList = msgspec.field(default_factory=list)
    publics: SlugList = msgspec.field(default_factory=list)
    publics_details: LongText | None = None
    fees: Slug | None = None
    fees_details: LongText | None = None
    access_conditions: LongText | None = None
    documents_to_bring: TextList = msgspec.field(default_factory=list)
    reception_modes: SlugList = msgspec.field(default_factory=list)
    appointment_required: bool | None = None
    appointment_url: Url | None = None
    appointment_slots: Annotated[list[AppointmentSlot], Meta(max_length=500)] = msgspec.field(
        default_factory=list
    )
    referral_modes: SlugList = msgspec.field(default_factory=list)
    referable_by: SlugList = msgspec.field(default_factory=list)
    referral_url: Url | None = None
    referral_phone: Phone | None = None
    referral_email: Email | None = None
    referral_details: LongText | None = None
    accepts_referrals: bool = True
    referral_response_days: ResponseDays | None = None
    opening_hours: OpeningHours | None = None
    weekly_hours: WeeklyHours | None = None
    duration_weeks: DurationWeeks | None = None
    capacity_status: CapacityStatus = "accepting"
    capacity_until: date | None = None
    contact_name: Name | None = None
    contact_phone: Phone | None = None
    contact_email: Email | None = None
    contact_public: bool = False
    eligibility_zones: ZoneList = msgspec.field(default_factory=list)
    sessions: Annotated[list[ServiceSessionInput], Meta(max_length=200)] = msgspec.field(
        default_factory=list
    )
    address: ShortText | None = None
    address_complement: ShortText | None = None
    postal_code: PostalCode | None = None
    commune_code: CommuneCode | None = None
    commune: CommuneName | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    source: SourceName | None = None
    source_id: SourceId | None = None
    source_url: Url | None = None
    status: InitialStatus = "draft"


class ServiceUpdate(msgspec.Struct, **_INPUT):  # type: ignore[call-arg]
    name: Name | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    type: Slug | UnsetType | None = UNSET
    thematiques: SlugList | UnsetType = UNSET
    publics: SlugList | UnsetType = UNSET
    publics_details: LongText | UnsetType | None = UNSET
    fees: Slug | UnsetType | None = UNSET
    fees_details: LongText | UnsetType | None = UNSET
    access_conditions: LongText | UnsetType | None = UNSET
    documents_to_bring: TextList | UnsetType = UNSET
    reception_modes: SlugList | UnsetType = UNSET
    appointment_required: bool | UnsetType | None = UNSET
    appointment_url: Url | UnsetType | None = UNSET
    appointment_slots: Annotated[list[AppointmentSlot], Meta(max_length=500)] | UnsetType = UNSET
    referral_modes: SlugList | UnsetType = UNSET
    referable_by: SlugList | UnsetType = UNSET
    referral_url: Url | UnsetType | None = UNSET
    referral_phone: Phone | UnsetType | None = UNSET
    referral_email: Email | UnsetType | None = UNSET
    referral_details: LongText | UnsetType | None = UNSET
    accepts_referrals: bool | UnsetType = UNSET
    referral_response_days: ResponseDays | UnsetType | None = UNSET
    opening_hours: OpeningHours | UnsetType | None = UNSET
    weekly_hours: WeeklyHours | UnsetType | None = UNSET
    duration_weeks: DurationWeeks | UnsetType | None = UNSET
    capacity_status: CapacityStatus | UnsetType = UNSET
    capacity_until: date | UnsetType | None = UNSET
    contact_name: Name | UnsetType | None = UNSET
    contact_phone: Phone | UnsetType | None = UNSET
    contact_email: Email | UnsetType | None = UNSET
    contact_public: bool | UnsetType = UNSET
    eligibility_zones: ZoneList | UnsetType = UNSET
    sessions: Annotated[list[ServiceSessionInput], Meta(max_length=200)] | UnsetType = UNSET
    address: ShortText | UnsetType | None = UNSET
    address_complement: ShortText | UnsetType | None = UNSET
    postal_code: PostalCode | UnsetType | None = UNSET
    commune_code: CommuneCode | UnsetType | None = UNSET
    commune: CommuneName | UnsetType | None = UNSET
    latitude: Latitude | UnsetType | None = UNSET
    longitude: Longitude | UnsetType | None = UNSET
    source_url: Url | UnsetType | None = UNSET


class ServiceRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    structure_id: uuid.UUID
    name: str
    status: Status
    capacity_status: CapacityStatus
    accepts_referrals: bool
    referral_response_days: int | None = None
    thematiques: list[str] = msgspec.field(default_factory=list)
    description: str = ""
    type: str | None = None
    publics: list[str] = msgspec.field(default_factory=list)
    publics_details: str | None = None
    fees: str | None = None
    fees_details: str | None = None
    access_conditions: str | None = None
    documents_to_bring: list[str] = msgspec.field(default_factory=list)
    reception_modes: list[str] = msgspec.field(default_factory=list)
    appointment_required: bool | None = None
    appointment_url: str | None = None
    appointment_slots: list[AppointmentSlot] = msgspec.field(default_factory=list)
    referral_modes: list[str] = msgspec.field(default_factory=list)
    referable_by: list[str] = msgspec.field(default_factory=list)
    referral_url: str | None = None
    referral_phone: str | None = None
    referral_phone_kind: PhoneKind | None = None
    referral_email: str | None = None
    referral_details: str | None = None
    opening_hours: str | None = None
    weekly_hours: float | None = None
    duration_weeks: int | None = None
    capacity_until: date | None = None
    # When a person last stated the capacity (set or confirmed it, or verified the service).
    capacity_confirmed_at: datetime | None = None
    contact_public: bool = False
    # True when the contact exists but is reserved to members of the structure (hidden here).
    contact_hidden: bool = False
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_phone_kind: PhoneKind | None = None
    contact_email: str | None = None
    eligibility_zones: list[str] = msgspec.field(default_factory=list)
    sessions: list[ServiceSessionRead] = msgspec.field(default_factory=list)
    address: str | None = None
    address_complement: str | None = None
    postal_code: str | None = None
    commune_code: str | None = None
    commune: str | None = None
    departement_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    position: Annotated[
        Position | None,
        msgspec.Meta(
            description="Where the service is, for distances (the same as in search results): "
            "its own coordinates (precision `address`), else the position of its own address "
            "found by the geocoder (precision `geocoded`); without either, the reference point "
            "of its commune when that is not its structure's (precision `commune`, "
            "approximate), else its structure's position (precision as the structure's). Null "
            "when none is known. `latitude`/`longitude` are the service's own coordinates only."
        ),
    ] = None
    source: str | None = None
    source_id: str | None = None
    source_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    verified_at: datetime | None = None
    # When the content was last known right (edit or confirmation here, or the source's date for
    # an imported entry); ``stale`` when longer ago than the review period.
    reviewed_at: datetime | None = None
    stale: bool = False
    version: int = 1
    etag: str = ""
    links: list[LinkStatus] = msgspec.field(default_factory=list)


# --- places ----------------------------------------------------------------------------------


class PlaceCreate(msgspec.Struct, **_INPUT):  # type: ignore[call-arg]
    structure_id: uuid.UUID
    name: Name
    description: LongText | None = None
    opening_hours: OpeningHours | None = None
    accessibility_url: Url | None = None
    address: ShortText | None = None
    address_complement: ShortText | None = None
    postal_code: PostalCode | None = None
    commune_code: CommuneCode | None = None
    commune: CommuneName | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    source: SourceName | None = None
    source_id: SourceId | None = None
    source_url: Url | None = None
    status: InitialStatus = "draft"


class PlaceUpdate(msgspec.Struct, **_INPUT):  # type: ignore[call-arg]
    name: Name | UnsetType = UNSET
    description: LongText | UnsetType | None = UNSET
    opening_hours: OpeningHours | UnsetType | None = UNSET
    accessibility_url: Url | UnsetType | None = UNSET
    address: ShortText | UnsetType | None = UNSET
    address_complement: ShortText | UnsetType | None = UNSET
    postal_code: PostalCode | UnsetType | None = UNSET
    commune_code: CommuneCode | UnsetType | None = UNSET
    commune: CommuneName | UnsetType | None = UNSET
    latitude: Latitude | UnsetType | None = UNSET
    longitude: Longitude | UnsetType | None = UNSET
    source_url: Url | UnsetType | None = UNSET


class PlaceRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    structure_id: uuid.UUID
    name: str
    status: Status
    description: str | None = None
    opening_hours: str | None = None
    accessibility_url: str | None = None
    address: str | None = None
    address_complement: str | None = None
    postal_code: str | None = None
    commune_code: str | None = None
    commune: str | None = None
    departement_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    position: Annotated[
        Position | None,
        msgspec.Meta(description=_POSITION_DOC),
    ] = None
    source: str | None = None
    source_id: str | None = None
    source_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    verified_at: datetime | None = None
    # When the content was last known right (edit or confirmation here, or the source's date for
    # an imported entry); ``stale`` when longer ago than the review period.
    reviewed_at: datetime | None = None
    stale: bool = False
    version: int = 1
    etag: str = ""


# --- history, reference lookups -----------------------------------------------------------------


class HistoryRead(msgspec.Struct, kw_only=True):
    """One change of an entry: who (account or client id, never a name), when, what."""

    id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    action: str
    at: datetime
    actor: str | None = None
    actor_structure_id: uuid.UUID | None = None
    # field -> [before, after]
    changes: dict[str, Any] = msgspec.field(default_factory=dict)


# Why an entry needs a maintainer's attention (services.directory.domain.review).
ReviewReason = Literal[
    "stale", "never_verified", "link_dead", "link_failing", "capacity_unconfirmed"
]


class ReviewItem(msgspec.Struct, kw_only=True):
    """A structure or service to look at, and why."""

    entity_type: Literal["structure", "service"]
    id: uuid.UUID
    # The structure the entry belongs to (its own id for a structure).
    structure_id: uuid.UUID
    name: str
    status: Status
    reasons: list[ReviewReason]
    reviewed_at: datetime | None = None
    verified_at: datetime | None = None
    capacity_status: CapacityStatus | None = None
    capacity_confirmed_at: datetime | None = None
    # The entry's dead and failing links.
    links: list[LinkStatus] = msgspec.field(default_factory=list)


class TaxonomySummary(msgspec.Struct, kw_only=True):
    name: str
    count: int
    url: str


class TaxonomyRead(msgspec.Struct, kw_only=True):
    name: str
    terms: list[Term]


class Area(msgspec.Struct, kw_only=True):
    code: str
    name: str


class CommuneRead(msgspec.Struct, kw_only=True):
    code: str
    name: str
    type: str
    postal_codes: list[str]
    departement: Area
    region: Area
    epci: Area | None = None
    population: int | None = None
    # The commune's reference point (precision ``commune``); null for the few communes created
    # after the reference data (a distance search from them is refused, naming ``commune``).
    position: Position | None = None
    # Eligibility zones covering this commune (commune, EPCI, département, région, france).
    zones: list[str] = msgspec.field(default_factory=list)


__all__ = [
    "AppointmentSlot",
    "Area",
    "CommuneRead",
    "HistoryRead",
    "LinkStatus",
    "PlaceCreate",
    "PlaceRead",
    "PlaceUpdate",
    "Position",
    "ReviewItem",
    "ServiceCreate",
    "ServiceRead",
    "ServiceSessionInput",
    "ServiceSessionRead",
    "ServiceUpdate",
    "StructureCreate",
    "StructureRead",
    "StructureUpdate",
    "TaxonomyRead",
    "TaxonomySummary",
    "position_of",
]
