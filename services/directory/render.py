"""ORM rows → public Read structs (``services.directory.schemas``); no ORM object on the wire.

Computed fields: ``stale`` (review period), ``etag``/``version``, ``departement_code`` (from the
COG reference), ``position`` (own coordinates, else the address's geocoded position, else the
commune's reference point; a service's is its structure's when it has none of its own:
``domain.positions``), ``links``
(link-checker summary) and, for services, members-only contacts hidden unless the reader may see
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import msgspec

from services.directory import models as m
from services.directory import schemas as s
from services.directory.domain import links as link_rules
from services.directory.domain.freshness import is_stale
from services.directory.domain.phones import phone_kind
from services.directory.domain.positions import entry_position, service_row_position
from services.kernel.reference import geography


def etag(entity: m.Structure | m.Service | m.Place) -> str:
    """Strong validator of an entry: its version (If-Match compares it)."""
    return f'"{entity.version}"'


def link_status(check: Any, *, insider: bool) -> s.LinkStatus:
    """From a ``link_checks`` row (ORM object or Core row), as this reader may see it: a link
    that fails but is not dead yet is shown to outsiders as of its last success
    (``domain.links``)."""
    shown = link_rules.state(
        dead=check.dead,
        checked=check.last_checked_at is not None,
        failures=check.consecutive_failures or 0,
        ever_ok=check.last_ok_at is not None,
        insider=insider,
    )
    hidden = shown != "failing" and bool(check.consecutive_failures) and not check.dead
    return s.LinkStatus(
        field=check.field,
        url=check.url,
        state=shown,
        http_status=None if hidden else check.last_status,
        last_checked_at=check.last_ok_at if hidden else check.last_checked_at,
        last_ok_at=check.last_ok_at,
    )


def _area_codes(commune_code: str | None) -> dict[str, str | None]:
    commune = geography().commune(commune_code) if commune_code else None
    if commune is None:
        return {"departement_code": None, "region_code": None, "epci_code": None}
    current = geography().current(commune)
    return {
        "departement_code": commune.departement,
        "region_code": commune.region,
        "epci_code": commune.epci or current.epci,
    }


def _common(entity: Any, *, now: datetime, review_days: int) -> dict[str, Any]:
    return {
        "stale": is_stale(entity.reviewed_at, now=now, period_days=review_days),
        "etag": etag(entity),
    }


# Derived from a stored phone number: the kind of each phone field.
_PHONE_KINDS = {
    "phone_kind": "phone",
    "referral_phone_kind": "referral_phone",
    "contact_phone_kind": "contact_phone",
}
_STRUCTURE_FIELDS = tuple(
    f
    for f in s.StructureRead.__struct_fields__
    if f not in ("stale", "etag", "links", "position") and f not in _PHONE_KINDS
)
_SERVICE_FIELDS = tuple(
    f
    for f in s.ServiceRead.__struct_fields__
    if f
    not in (
        "stale",
        "etag",
        "links",
        "eligibility_zones",
        "sessions",
        "contact_hidden",
        "departement_code",
        "position",
    )
    and f not in _PHONE_KINDS
)
_PLACE_FIELDS = tuple(
    f
    for f in s.PlaceRead.__struct_fields__
    if f not in ("stale", "etag", "departement_code", "position")
)


def position(values: Any) -> s.Position | None:
    """The entry's position for distances (``domain.positions``), from an ORM row or a mapping
    of its columns."""
    get = values.get if isinstance(values, Mapping) else lambda name: getattr(values, name)
    return s.position_of(
        entry_position(
            get("latitude"),
            get("longitude"),
            get("commune_code"),
            get("geocoded_latitude"),
            get("geocoded_longitude"),
        )
    )


def structure_read(
    row: m.Structure,
    *,
    now: datetime,
    review_days: int,
    insider: bool,
    links: Sequence[m.LinkCheck] = (),
) -> s.StructureRead:
    """``insider``: the reader is a moderator or an insider of the structure (``links``)."""
    values: dict[str, Any] = {name: getattr(row, name, None) for name in _STRUCTURE_FIELDS}
    values.update(_area_codes(row.commune_code))
    values.update(_common(row, now=now, review_days=review_days))
    values["links"] = [link_status(c, insider=insider) for c in links]
    values["phone_kind"] = phone_kind(row.phone)
    values["position"] = position(row)
    return s.StructureRead(**values)


# Read besides the fields of ``ServiceRead``: where the geocoder found the service's address.
_GEOCODED = ("geocoded_latitude", "geocoded_longitude")


def service_columns(row: m.Service, structure: Any) -> dict[str, Any]:
    """The columns ``service_read`` reads, from an ORM ``Service`` and its structure's position
    (``store.reads.ServiceStructure``: ``latitude``, ``longitude``, ``commune_code``,
    ``geocoded_latitude``, ``geocoded_longitude``)."""
    columns = {name: getattr(row, name) for name in (*_SERVICE_FIELDS, *_GEOCODED)}
    columns.update(
        structure_latitude=structure.latitude,
        structure_longitude=structure.longitude,
        structure_commune_code=structure.commune_code,
        structure_geocoded_latitude=structure.geocoded_latitude,
        structure_geocoded_longitude=structure.geocoded_longitude,
    )
    return columns


def service_read(
    row: Mapping[str, Any],
    *,
    now: datetime,
    review_days: int,
    insider: bool,
    zones: Sequence[str],
    sessions: Sequence[Any] = (),
    links: Sequence[Any] = (),
) -> s.ServiceRead:
    """A service from its columns (``service_columns`` of an ORM ``Service`` after a write, or a
    row of ``store.service_view`` by name), with its geocoded position (``geocoded_latitude``,
    ``geocoded_longitude``) and its structure's (``structure_latitude``, ``structure_longitude``,
    ``structure_commune_code``, ``structure_geocoded_latitude``,
    ``structure_geocoded_longitude``). ``zones``
    sorted; ``sessions`` and ``links`` rows of their tables (Core rows or ORM objects).
    ``insider``: the reader is a moderator or an insider of the service's structure
    (members-only contacts, failing links)."""
    values = {name: row[name] for name in _SERVICE_FIELDS}
    values["departement_code"] = _departement(values["commune_code"])
    values["position"] = s.position_of(service_row_position(row.__getitem__))
    values["stale"] = is_stale(values["reviewed_at"], now=now, period_days=review_days)
    values["etag"] = f'"{values["version"]}"'
    values["links"] = [link_status(c, insider=insider) for c in links]
    values["eligibility_zones"] = list(zones)
    values["sessions"] = [
        s.ServiceSessionRead(
            id=x.id, place_id=x.place_id, opening_hours=x.opening_hours, note=x.note
        )
        for x in sessions
    ]
    slots = values["appointment_slots"]
    values["appointment_slots"] = msgspec.convert(slots, list[s.AppointmentSlot]) if slots else []
    if not values["contact_public"] and not insider:
        values["contact_hidden"] = bool(
            values["contact_name"] or values["contact_phone"] or values["contact_email"]
        )
        values.update(contact_name=None, contact_phone=None, contact_email=None)
    values["referral_phone_kind"] = phone_kind(values["referral_phone"])
    values["contact_phone_kind"] = phone_kind(values["contact_phone"])
    return s.ServiceRead(**values)


@lru_cache(maxsize=8192)
def _departement(commune_code: str | None) -> str | None:
    commune = geography().commune(commune_code) if commune_code else None
    return None if commune is None else commune.departement


def place_read(row: m.Place, *, now: datetime, review_days: int) -> s.PlaceRead:
    values = {name: getattr(row, name) for name in _PLACE_FIELDS}
    values["departement_code"] = _departement(row.commune_code)
    values["position"] = position(row)
    values.update(_common(row, now=now, review_days=review_days))
    return s.PlaceRead(**values)


def history_read(row: m.HistoryEntry) -> s.HistoryRead:
    return s.HistoryRead(
        id=row.id,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        action=row.action,
        at=row.at,
        actor=row.actor,
        actor_structure_id=row.actor_structure_id,
        changes=row.changes or {},
    )
