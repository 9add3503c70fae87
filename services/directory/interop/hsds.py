"""Relais → HSDS 3.1 (Open Referral Human Services Data Specification): pure mapping.

- structure → ``organization`` (SIRET as an ``organization_identifier``, réseaux porteurs as
  attributes); its address, when it has one, is a ``location`` with the structure's id;
- place → ``location`` (same id); a service with its own address → a ``location`` with the
  service's id; ids are UUIDs of different tables, so they never collide; a location without
  coordinates but with an INSEE code gets its address's position found by the geocoder (when it
  is on), marked by a ``position_precision`` attribute (value ``geocoded``), else its commune's
  reference point, marked approximate by the same attribute (value ``commune``, « centre de la
  commune »); a location with its own coordinates has no such attribute;
- service → ``service``: status ``published``/``suspended``/``archived``/``draft`` →
  ``active``/``temporarily closed``/``defunct``/``inactive``; zones → ``service_areas``;
  thematiques, publics, type, frais, modes → ``attributes`` pointing at ``taxonomy_terms``;
  documents to bring → ``required_documents``; opening hours → ``schedules`` (the OSM
  ``opening_hours`` text in ``description``); contacts only when marked public;
- service at location: a session of an itinerant service (session id), or the service's own
  address / its structure's address (service id);
- taxonomies are the data·inclusion référentiels; term and child-object ids are UUIDv5 derived
  from stable keys, so they never change between calls.

Optional values are left out rather than sent as ``null`` (HSDS types them as plain strings).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from services.directory.domain.phones import PhoneKind, phone_kind
from services.directory.domain.positions import Located, entry_position, service_row_position
from services.kernel.reference import geography, taxonomy
from services.kernel.reference.taxonomies import CATEGORY_SEPARATOR

HSDS_VERSION = "3.1"
# Attribute of a location whose coordinates are not its own (``_position_attribute``).
POSITION_PRECISION = "position_precision"
POSITION_LABELS = {
    "geocoded": "Position de l'adresse, calculée par la Base Adresse Nationale",
    "commune": "Position approximative : centre de la commune",
}
PROFILE_URL = "https://openreferral.org/specification/3.1/"
NAMESPACE = uuid.UUID("3c4a0e4e-3f55-5b8e-9a54-7a1f0e9c2b61")

STATUS = {
    "published": "active",
    "suspended": "temporarily closed",
    "archived": "defunct",
    "draft": "inactive",
}
CAPACITY_ALERTS = {
    "waiting_list": "Liste d'attente",
    "full": "Complet : le service n'accepte plus de nouvelles demandes pour le moment.",
}
# data·inclusion référentiels exposed as HSDS taxonomies, and the service fields using them.
TAXONOMIES: dict[str, str] = {
    "thematiques": "Thématiques data·inclusion (catégories et sous-thématiques)",
    "publics": "Publics visés (data·inclusion)",
    "types-de-services": "Types de services (data·inclusion)",
    "frais": "Frais (data·inclusion)",
    "modes-accueil": "Modes d'accueil (data·inclusion)",
    "modes-mobilisation": "Modes de mobilisation (data·inclusion)",
    "personnes-mobilisatrices": "Personnes mobilisatrices (data·inclusion)",
    "reseaux-porteurs": "Réseaux porteurs des structures (data·inclusion)",
}
SERVICE_TAXONOMY_FIELDS: dict[str, str] = {
    "thematiques": "thematiques",
    "publics": "publics",
    "type": "types-de-services",
    "fees": "frais",
    "reception_modes": "modes-accueil",
    "referral_modes": "modes-mobilisation",
    "referable_by": "personnes-mobilisatrices",
}


def derived_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None and v != []}


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- taxonomies


def taxonomy_id(name: str) -> str:
    return derived_id("taxonomy", name)


def term_id(name: str, value: str) -> str:
    return derived_id("term", name, value)


def hsds_taxonomy(name: str) -> dict[str, Any]:
    return {
        "id": taxonomy_id(name),
        "name": name,
        "description": TAXONOMIES[name],
        "version": "1",
    }


@cache
def _terms() -> tuple[dict[str, Any], ...]:
    terms: list[dict[str, Any]] = []
    for name in TAXONOMIES:
        if name == "thematiques":
            for category in taxonomy("categories-thematiques").terms:
                terms.append(_term(name, category.value, category.label, category.description))
        for term in taxonomy(name).terms:
            parent = None
            if name == "thematiques" and CATEGORY_SEPARATOR in term.value:
                parent = term_id(name, term.value.split(CATEGORY_SEPARATOR, 1)[0])
            terms.append(_term(name, term.value, term.label, term.description, parent))
    return tuple(terms)


def _term(
    name: str, value: str, label: str, description: str | None, parent: str | None = None
) -> dict[str, Any]:
    return _clean(
        {
            "id": term_id(name, value),
            "code": value,
            "name": label,
            "description": description or label,
            "parent_id": parent,
            "taxonomy": name,
            "taxonomy_id": taxonomy_id(name),
            "language": "fr",
        }
    )


def taxonomy_terms() -> Sequence[dict[str, Any]]:
    return _terms()


@cache
def _terms_by_id() -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in _terms()}


def find_term(term: str) -> dict[str, Any] | None:
    """A term by its HSDS id, or by ``taxonomy:code`` / a bare thematique code for convenience."""
    found = _terms_by_id().get(term.lower())
    if found is not None:
        return found
    name, _, code = term.partition(":")
    if not code:
        name, code = "thematiques", term
    return _terms_by_id().get(term_id(name, code)) if name in TAXONOMIES else None


def term_label(name: str, value: str) -> str:
    term = _terms_by_id().get(term_id(name, value))
    return str(term["name"]) if term else value


# --------------------------------------------------------------------------- addresses


def has_address(row: Mapping[Any, Any]) -> bool:
    return any(row.get(k) is not None for k in ("address", "commune_code", "latitude"))


def _address(row: Mapping[Any, Any], location_id: str) -> list[dict[str, Any]]:
    """A physical address, when the entry holds everything HSDS requires of one."""
    code = row.get("commune_code")
    commune = geography().commune(code) if code else None
    city = row.get("commune") or (commune.name if commune else None)
    departement = geography().departements.get(commune.departement) if commune else None
    region = geography().regions.get(commune.region) if commune else None
    if not (row.get("address") and city and row.get("postal_code") and departement):
        return []
    return [
        _clean(
            {
                "id": derived_id("address", location_id),
                "location_id": location_id,
                "address_1": row["address"],
                "address_2": row.get("address_complement"),
                "city": city,
                "region": region.name if region else None,
                "state_province": departement.name,
                "postal_code": row["postal_code"],
                "country": "FR",
                "address_type": "physical",
            }
        )
    ]


def _schedule(owner: str, owner_id: str, hours: str | None) -> list[dict[str, Any]]:
    if not hours:
        return []
    return [
        {
            "id": derived_id("schedule", owner, owner_id),
            f"{owner}_id": owner_id,
            "description": hours,
            "notes": "Horaires au format OpenStreetMap opening_hours.",
        }
    ]


# How each kind of number is described to the person who reads the HSDS view.
_PHONE_DESCRIPTIONS = {
    PhoneKind.TOLL_FREE: "Numéro vert (appel gratuit)",
    PhoneKind.SHARED_COST: "Numéro spécial (service payant en plus du prix de l'appel)",
    PhoneKind.PREMIUM_RATE: "Numéro surtaxé",
    PhoneKind.SHORT: "Numéro court national (depuis la France uniquement)",
    PhoneKind.EMERGENCY: "Numéro d'urgence",
}


def _phone(owner: str, owner_id: str, number: str | None) -> list[dict[str, Any]]:
    if not number:
        return []
    kind = phone_kind(number)
    phone = {
        "id": derived_id("phone", owner, owner_id),
        f"{owner}_id": owner_id,
        "number": number,
        "type": "cell" if kind is PhoneKind.MOBILE else "voice",
    }
    if kind in _PHONE_DESCRIPTIONS:
        phone["description"] = _PHONE_DESCRIPTIONS[kind]
    return [phone]


def location(
    row: Mapping[Any, Any], *, kind: str, organization_id: Any, full: bool = True
) -> dict[str, Any]:
    """An HSDS location from a place, a structure or a service row (each holds an address; a
    service's also its structure's position: ``structure_latitude``, ``structure_longitude``,
    ``structure_commune_code``)."""
    location_id = str(row["id"])
    position = _position(row, kind)
    data: dict[str, Any] = {
        "id": location_id,
        "location_type": "physical",
        "organization_id": str(organization_id),
        "name": row.get("name"),
        "description": row.get("description") if kind == "place" else None,
        "latitude": position.latitude if position else None,
        "longitude": position.longitude if position else None,
        "external_identifier": row.get("commune_code"),
        "external_identifier_type": "code INSEE de la commune" if row.get("commune_code") else None,
    }
    if position is not None and position.precision in POSITION_LABELS:
        data["attributes"] = [_position_attribute(location_id, position.precision)]
    if full:
        data["addresses"] = _address(row, location_id)
        data["schedules"] = _schedule("location", location_id, row.get("opening_hours"))
        if row.get("accessibility_url"):
            data["accessibility"] = [
                {
                    "id": derived_id("accessibility", location_id),
                    "location_id": location_id,
                    "url": row["accessibility_url"],
                }
            ]
    return _clean(data)


def _position(row: Mapping[Any, Any], kind: str) -> Located | None:
    """Where the location is: a service's position is the one its native API and search give
    (``domain.positions.service_position``: its structure's when it has no coordinates of its
    own and is in the same commune); any entry's geocoded address comes before its commune."""
    if kind == "service":
        return service_row_position(row.get)
    return entry_position(
        row.get("latitude"),
        row.get("longitude"),
        row.get("commune_code"),
        row.get("geocoded_latitude"),
        row.get("geocoded_longitude"),
    )


def _position_attribute(location_id: str, precision: str) -> dict[str, Any]:
    """Says that a location's coordinates are not its own: its address's position found by the
    geocoder, or its commune's reference point (HSDS has no precision field: an attribute
    without taxonomy term, as HSDS allows)."""
    return {
        "id": derived_id("attribute", "location", location_id, POSITION_PRECISION),
        "link_id": location_id,
        "link_type": POSITION_PRECISION,
        "link_entity": "location",
        "value": precision,
        "label": POSITION_LABELS[precision],
    }


# --------------------------------------------------------------------------- organizations


def organization(row: Mapping[Any, Any], *, full: bool = False) -> dict[str, Any]:
    org_id = str(row["id"])
    data: dict[str, Any] = {
        "id": org_id,
        "name": row["name"],
        "description": row.get("description") or "",
        "email": row.get("email"),
        "website": row.get("website"),
        "tax_id": row.get("siret"),
        "uri": row.get("source_url"),
        "parent_organization_id": str(row["parent_id"]) if row.get("parent_id") else None,
    }
    if full:
        data["phones"] = _phone("organization", org_id, row.get("phone"))
        if row.get("siret"):
            data["organization_identifiers"] = [
                {
                    "id": derived_id("siret", org_id),
                    "organization_id": org_id,
                    "identifier_scheme": "FR-SIRET",
                    "identifier_type": "SIRET",
                    "identifier": row["siret"],
                }
            ]
        data["attributes"] = [
            _attribute("organization", org_id, "reseaux-porteurs", v)
            for v in row.get("networks") or []
        ]
        if has_address(row):
            data["locations"] = [location(row, kind="structure", organization_id=org_id)]
    return _clean(data)


# --------------------------------------------------------------------------- services


def _attribute(entity: str, link_id: str, name: str, value: str) -> dict[str, Any]:
    terms = _terms_by_id()
    term = terms.get(term_id(name, value))
    return _clean(
        {
            "id": derived_id("attribute", entity, link_id, name, value),
            "link_id": link_id,
            "link_type": name,
            "link_entity": entity,
            "taxonomy_term_id": term["id"] if term else None,
            "taxonomy_term": term,
            "value": value,
            "label": term["name"] if term else value,
        }
    )


def _service_terms(row: Mapping[Any, Any]) -> Iterable[tuple[str, str]]:
    for field, name in SERVICE_TAXONOMY_FIELDS.items():
        value = row.get(field)
        for item in value if isinstance(value, list) else [value] if value else []:
            yield name, item


def _join(*parts: str | None) -> str | None:
    text = "\n\n".join(p for p in parts if p)
    return text or None


def service(
    row: Mapping[Any, Any],
    *,
    zones: Sequence[str] = (),
    full: bool = False,
    organization_row: Mapping[Any, Any] | None = None,
    service_at_locations: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    service_id = str(row["id"])
    public = bool(row.get("contact_public"))
    modes = ", ".join(term_label("modes-mobilisation", m) for m in row.get("referral_modes") or [])
    fees = term_label("frais", row["fees"]) if row.get("fees") else None
    data: dict[str, Any] = {
        "id": service_id,
        "organization_id": str(row["structure_id"]),
        "name": row["name"],
        "description": row.get("description") or None,
        "url": row.get("source_url"),
        "email": (row.get("contact_email") if public else None) or row.get("referral_email"),
        "status": STATUS.get(row.get("status") or "", "inactive"),
        "application_process": _join(modes and f"Mobilisation : {modes}", row["referral_details"]),
        "fees_description": _join(fees, row.get("fees_details")),
        "eligibility_description": _join(row.get("publics_details"), row.get("access_conditions")),
        "alert": CAPACITY_ALERTS.get(row.get("capacity_status") or ""),
        "assured_date": row["reviewed_at"].date().isoformat() if row.get("reviewed_at") else None,
        "last_modified": _timestamp(row.get("updated_at")),
    }
    if full:
        phone = (row.get("contact_phone") if public else None) or row.get("referral_phone")
        data["phones"] = _phone("service", service_id, phone)
        data["schedules"] = _schedule("service", service_id, row.get("opening_hours"))
        geo = geography()
        data["service_areas"] = [
            _clean(
                {
                    "id": derived_id("service_area", service_id, zone),
                    "service_id": service_id,
                    "name": geo.zone_label(zone) or zone,
                    "description": zone,
                    "extent_type": "other",
                }
            )
            for zone in zones
        ]
        data["required_documents"] = [
            {
                "id": derived_id("required_document", service_id, i),
                "service_id": service_id,
                "document": document,
            }
            for i, document in enumerate(row.get("documents_to_bring") or [])
        ]
        data["attributes"] = [
            _attribute("service", service_id, name, value) for name, value in _service_terms(row)
        ]
        if public and row.get("contact_name"):
            data["contacts"] = [
                _clean(
                    {
                        "id": derived_id("contact", service_id),
                        "service_id": service_id,
                        "name": row["contact_name"],
                        "email": row.get("contact_email"),
                    }
                )
            ]
        if row.get("fees") == "gratuit":
            data["cost_options"] = [
                {
                    "id": derived_id("cost_option", service_id),
                    "service_id": service_id,
                    "option": "Gratuit",
                    "currency": "EUR",
                    "amount": 0,
                }
            ]
        if organization_row is not None:
            data["organization"] = organization(organization_row)
        data["service_at_locations"] = list(service_at_locations)
    return _clean(data)


def service_at_location(
    sal_id: Any,
    service_id: Any,
    location_row: Mapping[Any, Any] | None,
    *,
    location_kind: str,
    organization_id: Any,
    hours: str | None = None,
    note: str | None = None,
    full: bool = True,
) -> dict[str, Any]:
    sal = str(sal_id)
    data: dict[str, Any] = {
        "id": sal,
        "service_id": str(service_id),
        "location_id": str(location_row["id"]) if location_row is not None else None,
        "description": note,
    }
    if full:
        data["schedules"] = _schedule("service_at_location", sal, hours)
        if location_row is not None:
            data["location"] = location(
                location_row, kind=location_kind, organization_id=organization_id
            )
    return _clean(data)


def root(base_url: str) -> dict[str, Any]:
    return {
        "version": HSDS_VERSION,
        "profile": PROFILE_URL,
        "openapi_url": f"{base_url.rstrip('/')}/directory/docs/openapi.json",
    }


def page_envelope(
    contents: list[dict[str, Any]], *, total: int, page: int, per_page: int
) -> dict[str, Any]:
    pages = (total + per_page - 1) // per_page if total else 0
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= pages,
        "empty": not contents,
        "contents": contents,
    }
