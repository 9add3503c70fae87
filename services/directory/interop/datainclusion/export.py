"""Relais rows → data·inclusion v1 (JSON and CSV exports); members-only contacts left out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from services.directory.interop.datainclusion.rows import unique
from services.kernel.reference import geography


@cache
def _departements_of_regions() -> dict[str, tuple[str, ...]]:
    regions: dict[str, set[str]] = {}
    for commune in geography().communes.values():
        regions.setdefault(commune.region, set()).add(commune.departement)
    return {code: tuple(sorted(deps)) for code, deps in regions.items()}


def codes_from_zones(zones: Iterable[str]) -> list[str]:
    """Relais zones as data·inclusion codes (a région becomes the list of its départements)."""
    codes: list[str] = []
    for zone in zones:
        kind, _, code = zone.partition(":")
        if kind == "france":
            codes.append("france")
        elif kind == "region":
            codes.extend(_departements_of_regions().get(code, ()))
        elif code:
            codes.append(code)
    return unique(codes)


# --------------------------------------------------------------------------- export


def export_source(source: str | None) -> str:
    """Entries created in Relais itself are published under the ``relais`` source."""
    return source or "relais"


def _day(value: datetime | None) -> str | None:
    return value.astimezone(UTC).date().isoformat() if value is not None else None


def structure_to_datainclusion(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A Relais structure (a mapping of its columns) as a data·inclusion v1 structure."""
    return {
        "source": export_source(row["source"]),
        "id": row["source_id"] or str(row["id"]),
        "nom": row["name"],
        "date_maj": _day(row["reviewed_at"] or row["updated_at"]),
        "lien_source": row["source_url"],
        "siret": row["siret"],
        "telephone": row["phone"],
        "courriel": row["email"],
        "site_web": row["website"],
        "description": row["description"],
        "horaires_accueil": row["opening_hours"],
        "accessibilite_lieu": row["accessibility_url"],
        "reseaux_porteurs": list(row["networks"] or []) or None,
        "adresse": row["address"],
        "complement_adresse": row["address_complement"],
        "code_postal": row["postal_code"],
        "code_insee": row["commune_code"],
        "commune": row["commune"],
        "longitude": row["longitude"],
        "latitude": row["latitude"],
    }


def service_to_datainclusion(
    row: Mapping[Any, Any], structure_id: str, zones: Iterable[str]
) -> dict[str, Any]:
    """A Relais service as a data·inclusion v1 service; members-only contacts are left out."""
    public = bool(row["contact_public"])
    return {
        "source": export_source(row["source"]),
        "structure_id": structure_id,
        "id": row["source_id"] or str(row["id"]),
        "nom": row["name"],
        "description": row["description"],
        "lien_source": row["source_url"],
        "date_maj": _day(row["reviewed_at"] or row["updated_at"]),
        "type": row["type"],
        "thematiques": list(row["thematiques"] or []) or None,
        "frais": row["fees"],
        "frais_precisions": row["fees_details"],
        "publics": list(row["publics"] or []) or None,
        "publics_precisions": row["publics_details"],
        "conditions_acces": row["access_conditions"],
        "horaires_accueil": row["opening_hours"],
        "adresse": row["address"],
        "complement_adresse": row["address_complement"],
        "code_postal": row["postal_code"],
        "code_insee": row["commune_code"],
        "commune": row["commune"],
        "longitude": row["longitude"],
        "latitude": row["latitude"],
        "telephone": (row["contact_phone"] if public else None) or row["referral_phone"],
        "courriel": (row["contact_email"] if public else None) or row["referral_email"],
        "contact_nom_prenom": row["contact_name"] if public else None,
        "modes_accueil": list(row["reception_modes"] or []) or None,
        "zone_eligibilite": codes_from_zones(zones) or None,
        "modes_mobilisation": list(row["referral_modes"] or []) or None,
        "lien_mobilisation": row["referral_url"],
        "mobilisable_par": list(row["referable_by"] or []) or None,
        "mobilisation_precisions": row["referral_details"],
        "volume_horaire_hebdomadaire": row["weekly_hours"],
        "nombre_semaines": row["duration_weeks"],
    }


def to_csv_cell(value: Any) -> str:
    """A data·inclusion value in a CSV cell: lists comma-separated, null as empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
