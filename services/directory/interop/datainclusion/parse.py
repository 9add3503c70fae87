"""data·inclusion v1 rows → Relais values: a row maps completely or yields all its errors."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

import msgspec

from services.directory.domain import validation as rules
from services.directory.interop.datainclusion.fields import (
    MAX_ADDRESS,
    MAX_COMMUNE,
    MAX_CONTACT_NAME,
    MAX_ID,
    MAX_SOURCE,
    MAX_TEXT,
    SERVICE_FIELD_NAMES,
    STRUCTURE_FIELD_NAMES,
    RowError,
    ServiceRecord,
    StructureRecord,
)
from services.directory.interop.datainclusion.rows import Row, unique
from services.kernel.errors import FieldError
from services.kernel.reference import geography, taxonomy

# Per-value caches around the domain validators: an import repeats the same phone numbers,
# addresses and hours many times, and these are the costly checks.
_phone = lru_cache(maxsize=65_536)(rules.normalize_phone)
_email = lru_cache(maxsize=65_536)(rules.normalize_email)
_hours = lru_cache(maxsize=65_536)(rules.check_opening_hours)
_url = lru_cache(maxsize=65_536)(rules.check_url)
# Fields the domain record check still runs (the cached ones above are done field by field).
_EXPENSIVE = frozenset({*rules.PHONE_FIELDS, *rules.EMAIL_FIELDS, *rules.URL_FIELDS})
_EXPENSIVE |= frozenset(rules.OPENING_HOURS_FIELDS)


def closest(value: str, known: Iterable[str]) -> str | None:
    """The known value a typo most likely meant, for a helpful error message."""
    matches = difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.75)
    return matches[0] if matches else None


def _apply_rules(
    check: Row,
    values: dict[str, Any],
    record_check: Callable[..., tuple[dict[str, Any], list[FieldError]]],
    names: Mapping[str, str],
    taxonomies: Mapping[str, str],
) -> dict[str, Any]:
    """Run the directory's own record rules on the mapped values; report in file field names."""
    fields = [name for name in values if name not in _EXPENSIVE]
    normalised, errors = record_check(values, fields)
    for error in errors:
        native = error.field.split("[", 1)[0].split(".", 1)[0]
        name = names.get(native, native)
        if check.has_error(name):
            continue  # already reported while reading the field
        value = None if error.value is msgspec.UNSET else error.value
        reason = error.reason
        if native in taxonomies and isinstance(value, str):
            suggestion = closest(value, taxonomy(taxonomies[native]).values)
            if suggestion:
                reason = f"{reason} ; vouliez-vous dire « {suggestion} » ?"
        check.error(name, reason, value if value is not None else check.raw.get(name))
    return {key: normalised.get(key) for key in values}


def _identity(check: Row, default_source: str | None) -> tuple[str | None, str | None]:
    source_id = check.text("id", required=True, max_length=MAX_ID)
    check.source_id = source_id
    check.errors = [msgspec.structs.replace(e, source_id=source_id) for e in check.errors]
    source = check.text("source", max_length=MAX_SOURCE)
    if source is None and not check.has_error("source"):
        source = default_source
        if source is None:
            check.error("source", "champ requis (ou source par défaut de l'import)")
    return source, source_id


def _address(check: Row) -> dict[str, Any]:
    return {
        "address": check.text("adresse", max_length=MAX_ADDRESS),
        "address_complement": check.text("complement_adresse", max_length=MAX_ADDRESS),
        "postal_code": check.code("code_postal"),
        "commune_code": check.code("code_insee"),
        "commune": check.text("commune", max_length=MAX_COMMUNE),
        "latitude": check.number("latitude"),
        "longitude": check.number("longitude"),
    }


# --------------------------------------------------------------------------- structures


def parse_structure(
    raw: Mapping[str, Any], row: int, *, default_source: str | None = None
) -> StructureRecord | list[RowError]:
    """Validate one data·inclusion structure row and map it to Relais columns."""
    check = Row("structure", row, raw if isinstance(raw, Mapping) else {})
    if not isinstance(raw, Mapping):
        check.error("row", "objet JSON attendu")
        return check.errors
    source, source_id = _identity(check, default_source)
    name = check.text("nom", required=True, min_length=3, max_length=150)
    if name is not None and name.endswith("."):
        check.error("nom", "ne doit pas se terminer par un point", name)
        name = None
    values: dict[str, Any] = {
        "name": name,
        "reviewed_at": check.day("date_maj"),
        "siret": check.text("siret", max_length=20),
        "description": check.text("description", min_length=5, max_length=10_000),
        **_address(check),
        "phone": check.checked("telephone", _phone),
        "email": check.checked("courriel", _email),
        "website": check.checked("site_web", _url),
        "source_url": check.checked("lien_source", _url),
        "opening_hours": check.checked("horaires_accueil", _hours),
        "accessibility_url": check.checked("accessibilite_lieu", _url),
        "networks": check.values("reseaux_porteurs"),
    }
    values = _apply_rules(
        check,
        values,
        rules.check_structure,
        STRUCTURE_FIELD_NAMES,
        rules.STRUCTURE_TAXONOMY_FIELDS,
    )
    if check.errors or source is None or source_id is None:
        return check.errors
    return StructureRecord(row=row, source=source, source_id=source_id, values=values)


# --------------------------------------------------------------------------- services


def parse_service(
    raw: Mapping[str, Any], row: int, *, default_source: str | None = None
) -> ServiceRecord | list[RowError]:
    """Validate one data·inclusion service row and map it to Relais columns and zones."""
    check = Row("service", row, raw if isinstance(raw, Mapping) else {})
    if not isinstance(raw, Mapping):
        check.error("row", "objet JSON attendu")
        return check.errors
    source, source_id = _identity(check, default_source)
    structure_source_id = check.text("structure_id", required=True, max_length=MAX_ID)
    publics = check.values("publics", min_items=1)
    if "tous-publics" in publics and len(publics) > 1:
        check.error(
            "publics", "« tous-publics » ne peut pas être combiné à d'autres publics", publics
        )
    referral_modes = check.values("modes_mobilisation", min_items=1)
    phone = check.checked("telephone", _phone)
    email = check.checked("courriel", _email)
    values: dict[str, Any] = {
        "name": check.text("nom", required=True, min_length=3, max_length=150),
        "description": check.text("description", required=True, min_length=5, max_length=10_000),
        "source_url": check.checked("lien_source", _url),
        "reviewed_at": check.day("date_maj"),
        "type": check.text("type", max_length=100),
        "thematiques": check.values("thematiques"),
        "fees": check.text("frais", max_length=20),
        "fees_details": check.text("frais_precisions", max_length=MAX_TEXT),
        "publics": publics,
        "publics_details": check.text("publics_precisions", max_length=MAX_TEXT),
        "access_conditions": check.text("conditions_acces", max_length=MAX_TEXT),
        "opening_hours": check.checked("horaires_accueil", _hours),
        **_address(check),
        "contact_name": check.text("contact_nom_prenom", max_length=MAX_CONTACT_NAME),
        "contact_phone": phone,
        "contact_email": email,
        "reception_modes": check.values("modes_accueil"),
        "referral_modes": referral_modes,
        "referable_by": check.values("mobilisable_par", min_items=1),
        "referral_url": check.checked("lien_mobilisation", _url),
        "referral_phone": phone if "telephoner" in referral_modes else None,
        "referral_email": email if "envoyer-un-courriel" in referral_modes else None,
        "referral_details": check.text("mobilisation_precisions", max_length=MAX_TEXT),
        "weekly_hours": check.number("volume_horaire_hebdomadaire", minimum=0),
        "duration_weeks": check.integer("nombre_semaines", minimum=1),
        "eligibility_zones": _zones(check),
    }
    values = _apply_rules(
        check, values, rules.check_service, SERVICE_FIELD_NAMES, rules.SERVICE_TAXONOMY_FIELDS
    )
    zones: list[str] = values.pop("eligibility_zones") or []
    if check.errors or source is None or source_id is None or structure_source_id is None:
        return check.errors
    return ServiceRecord(
        row=row,
        source=source,
        source_id=source_id,
        structure_source_id=structure_source_id,
        values=values,
        zones=sorted(set(zones)),
    )


def _zones(check: Row) -> list[str]:
    zones: list[str] = []
    for code in check.values("zone_eligibilite", min_items=1):
        zone = zone_from_code(code)
        if zone is None:
            check.error("zone_eligibilite", _zone_reason(code), code)
        else:
            zones.append(zone)
    return unique(zones)


def _zone_reason(code: str) -> str:
    if re.fullmatch(r"99[0-5]\d{2}", code):
        return "code pays hors France non pris en charge (seul 99100 = France)"
    return "code inconnu du Code officiel géographique (commune, EPCI, département ou « france »)"


def zone_from_code(code: str) -> str | None:
    """A data·inclusion eligibility code as a Relais zone, or None when it is not valid."""
    code = code.strip()
    if code.lower() == "france" or code == "99100":
        return "france"
    if re.fullmatch(r"\d{9}", code):
        zone = f"epci:{code}"
    elif len(code) == 5:
        zone = f"commune:{code.upper()}"
    elif 2 <= len(code) <= 3:
        zone = f"departement:{code.upper()}"
    else:
        return None
    return zone if geography().valid_zone(zone) else None
