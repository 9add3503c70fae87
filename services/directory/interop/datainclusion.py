"""data·inclusion v1 ⇄ Relais: pure mapping with row-by-row validation.

Input rows come from JSON (typed values), CSV (every value a string, lists comma-separated) or
the data·inclusion spreadsheet template (numbers and dates as Excel gives them); all three go
through the same normalisation. A row either maps completely to Relais columns or yields the
list of its errors (row, source id, field, value, reason): it is never applied in part.

Field correspondence (data·inclusion → Relais):

- structure: ``source``/``id`` → ``source``/``source_id``; ``nom`` → ``name``; ``siret``;
  ``description``; ``adresse``/``complement_adresse``/``code_postal``/``code_insee``/``commune``/
  ``latitude``/``longitude`` → address columns; ``telephone`` (stored E.164) → ``phone``;
  ``courriel`` → ``email``; ``site_web`` → ``website``; ``lien_source`` → ``source_url``;
  ``horaires_accueil`` → ``opening_hours``; ``accessibilite_lieu`` → ``accessibility_url``;
  ``reseaux_porteurs`` → ``networks``; ``date_maj`` → ``reviewed_at`` (the day the producer
  last updated the entry: its freshness follows that date, an import is not a verification and
  leaves ``verified_at`` alone; ``updated_at`` stays Relais' own change time, so
  ``updated_since`` synchronisation sees imported changes). Exports give ``reviewed_at`` back as
  ``date_maj``.
- service: as above for the address, plus ``structure_id`` (source id of its structure),
  ``nom``/``description``/``type``/``thematiques``/``frais``/``frais_precisions``/``publics``/
  ``publics_precisions``/``conditions_acces``; ``telephone``/``courriel``/``contact_nom_prenom``
  → ``contact_phone``/``contact_email``/``contact_name`` (also ``referral_phone``/
  ``referral_email`` when ``modes_mobilisation`` says to phone / e-mail); ``modes_accueil`` →
  ``reception_modes``; ``modes_mobilisation``/``mobilisable_par``/``lien_mobilisation``/
  ``mobilisation_precisions`` → ``referral_modes``/``referable_by``/``referral_url``/
  ``referral_details``; ``volume_horaire_hebdomadaire``/``nombre_semaines`` →
  ``weekly_hours``/``duration_weeks``; ``zone_eligibilite`` → zones (5 characters →
  ``commune:<insee>``, 9 digits → ``epci:<siren>``, 2–3 characters → ``departement:<code>``,
  ``france`` or ``99100`` → ``france``).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cache, lru_cache
from typing import Any, Literal

import msgspec

from services.directory.domain import validation as rules
from services.kernel.errors import FieldError
from services.kernel.reference import geography, taxonomy

Kind = Literal["structure", "service"]

# data·inclusion v1 fields, in the order of the published schemas (also the CSV column order).
STRUCTURE_FIELDS: tuple[str, ...] = (
    "source",
    "id",
    "nom",
    "date_maj",
    "lien_source",
    "siret",
    "telephone",
    "courriel",
    "site_web",
    "description",
    "horaires_accueil",
    "accessibilite_lieu",
    "reseaux_porteurs",
    "adresse",
    "complement_adresse",
    "code_postal",
    "code_insee",
    "commune",
    "longitude",
    "latitude",
)
SERVICE_FIELDS: tuple[str, ...] = (
    "source",
    "structure_id",
    "id",
    "nom",
    "description",
    "lien_source",
    "date_maj",
    "type",
    "thematiques",
    "frais",
    "frais_precisions",
    "publics",
    "publics_precisions",
    "conditions_acces",
    "horaires_accueil",
    "adresse",
    "complement_adresse",
    "code_postal",
    "code_insee",
    "commune",
    "longitude",
    "latitude",
    "telephone",
    "courriel",
    "contact_nom_prenom",
    "modes_accueil",
    "zone_eligibilite",
    "modes_mobilisation",
    "lien_mobilisation",
    "mobilisable_par",
    "mobilisation_precisions",
    "volume_horaire_hebdomadaire",
    "nombre_semaines",
)
LIST_FIELDS = frozenset(
    {
        "reseaux_porteurs",
        "thematiques",
        "publics",
        "modes_accueil",
        "zone_eligibilite",
        "modes_mobilisation",
        "mobilisable_par",
    }
)

ADDRESS_COLUMNS = (
    "address",
    "address_complement",
    "postal_code",
    "commune_code",
    "commune",
    "latitude",
    "longitude",
)
# Relais columns an import sets; nothing else of an existing entry is touched (status, moderation,
# referral settings, members-only flags stay as Relais users left them).
STRUCTURE_COLUMNS: tuple[str, ...] = (
    "name",
    "siret",
    "description",
    *ADDRESS_COLUMNS,
    "phone",
    "email",
    "website",
    "source_url",
    "opening_hours",
    "accessibility_url",
    "networks",
    "reviewed_at",
)
SERVICE_COLUMNS: tuple[str, ...] = (
    "name",
    "description",
    "source_url",
    "reviewed_at",
    "type",
    "thematiques",
    "fees",
    "fees_details",
    "publics",
    "publics_details",
    "access_conditions",
    "opening_hours",
    *ADDRESS_COLUMNS,
    "contact_name",
    "contact_phone",
    "contact_email",
    "reception_modes",
    "referral_modes",
    "referable_by",
    "referral_url",
    "referral_phone",
    "referral_email",
    "referral_details",
    "weekly_hours",
    "duration_weeks",
)

# Lengths of the Relais columns (models.py) and of data·inclusion fields.
_MAX_SOURCE = 100
_MAX_ID = 200
_MAX_ADDRESS = 500
_MAX_COMMUNE = 200
_MAX_CONTACT_NAME = 300
_MAX_OPENING_HOURS = 1000
_MAX_TEXT = 20_000
_MAX_ITEMS = 500
_MAX_ITEM = 100


class RowError(msgspec.Struct, frozen=True):
    """One problem in one input row."""

    kind: Kind
    row: int
    source_id: str | None
    field: str
    reason: str
    value: Any = None


@dataclass(slots=True)
class StructureRecord:
    row: int
    source: str
    source_id: str
    values: dict[str, Any]


@dataclass(slots=True)
class ServiceRecord:
    row: int
    source: str
    source_id: str
    structure_source_id: str
    values: dict[str, Any]
    zones: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- normalisation


def _report_value(value: Any) -> Any:
    """The offending value as it can appear in a JSON report."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_report_value(v) for v in value]
    return str(value)


def _as_text(value: Any) -> str | None:
    """A scalar as text: spreadsheets give numbers for codes (59260.0) and dates as datetimes."""
    if value is None:
        return None
    if isinstance(value, str):
        if "\x00" in value:
            raise TypeError("caractère NUL interdit")
        text = value.strip()
        return text or None
    if isinstance(value, bool):
        raise TypeError("texte attendu")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError("texte attendu")


_SPLIT = re.compile(r"[,;|]")


def _as_list(value: Any) -> list[str] | None:
    """A list field: a JSON array, or a string of comma-separated values (CSV, spreadsheet)."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        items = []
        for item in value:
            text = _as_text(item)
            if text is not None:
                items.append(text)
        return items or None
    text = _as_text(value)
    if text is None:
        return None
    if text.startswith("["):
        try:
            decoded = json.loads(text)
        except ValueError:
            raise TypeError("liste attendue") from None
        if not isinstance(decoded, list):
            raise TypeError("liste attendue")
        return _as_list(decoded)
    items = [part.strip() for part in _SPLIT.split(text)]
    return [i for i in items if i] or None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --------------------------------------------------------------------------- row reader


class _Row:
    """Reads one raw row field by field, collecting every error instead of stopping at one."""

    __slots__ = ("errors", "kind", "raw", "row", "source_id")

    def __init__(self, kind: Kind, row: int, raw: Mapping[str, Any]) -> None:
        self.kind = kind
        self.row = row
        self.raw = raw
        self.errors: list[RowError] = []
        self.source_id: str | None = None

    def error(self, name: str, reason: str, value: Any = None) -> None:
        self.errors.append(
            RowError(
                kind=self.kind,
                row=self.row,
                source_id=self.source_id,
                field=name,
                reason=reason,
                value=_report_value(value),
            )
        )

    def has_error(self, *names: str) -> bool:
        return any(e.field in names for e in self.errors)

    def text(
        self,
        name: str,
        *,
        required: bool = False,
        min_length: int = 0,
        max_length: int | None = None,
    ) -> str | None:
        raw = self.raw.get(name)
        try:
            text = _as_text(raw)
        except TypeError as exc:
            self.error(name, str(exc), raw)
            return None
        if text is None:
            if required:
                self.error(name, "champ requis")
            return None
        if len(text) < min_length:
            self.error(name, f"doit contenir au moins {min_length} caractères", raw)
            return None
        if max_length is not None and len(text) > max_length:
            self.error(name, f"doit contenir au plus {max_length} caractères", raw)
            return None
        return text

    def code(self, name: str) -> str | None:
        """An INSEE or postal code; a spreadsheet number lost its leading zero (1001 → 01001)."""
        raw = self.raw.get(name)
        text = self.text(name, max_length=10)
        if text is not None and isinstance(raw, int | float) and len(text) == 4:
            text = text.zfill(5)
        return text.upper() if text is not None else None

    def checked(self, name: str, check: Callable[[str], str]) -> str | None:
        """A text field normalised by a domain validator (raises ``Invalid`` with a reason)."""
        text = self.text(name)
        if text is None:
            return None
        try:
            return check(text)
        except rules.Invalid as exc:
            self.error(name, exc.reason, self.raw.get(name))
            return None

    def day(self, name: str) -> datetime | None:
        raw = self.raw.get(name)
        if isinstance(raw, datetime):
            return datetime.combine(raw.date(), time(0), tzinfo=UTC)
        if isinstance(raw, date):
            return datetime.combine(raw, time(0), tzinfo=UTC)
        text = self.text(name, required=True)
        if text is None:
            return None
        try:
            parsed = date.fromisoformat(text[:10])
            if len(text) > 10:
                datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.error(name, "date attendue au format AAAA-MM-JJ", raw)
            return None
        return datetime.combine(parsed, time(0), tzinfo=UTC)

    def number(self, name: str, *, minimum: float | None = None) -> float | None:
        raw = self.raw.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        value: float | None = None
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
        elif isinstance(raw, str):
            try:
                value = float(raw.strip().replace(",", "."))
            except ValueError:
                value = None
        if value is None or not math.isfinite(value):
            self.error(name, "nombre attendu", raw)
            return None
        if minimum is not None and value < minimum:
            self.error(name, f"doit être supérieur ou égal à {minimum:g}", raw)
            return None
        return value

    def integer(self, name: str, *, minimum: int | None = None) -> int | None:
        raw = self.raw.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        value: int | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif isinstance(raw, float) and raw.is_integer():
            value = int(raw)
        elif isinstance(raw, str) and re.fullmatch(r"[+-]?\d{1,9}", raw.strip()):
            value = int(raw.strip())
        if value is None:
            self.error(name, "nombre entier attendu", raw)
            return None
        if minimum is not None and value < minimum:
            self.error(name, f"doit être supérieur ou égal à {minimum}", raw)
            return None
        return value

    def values(self, name: str, *, min_items: int = 0) -> list[str]:
        raw = self.raw.get(name)
        try:
            items = _as_list(raw)
        except TypeError as exc:
            self.error(name, str(exc), raw)
            return []
        if not items:
            if min_items and isinstance(raw, list):
                self.error(name, f"doit contenir au moins {min_items} valeur(s)", raw)
            return []
        if len(items) > _MAX_ITEMS:
            self.error(name, f"au plus {_MAX_ITEMS} valeurs", len(items))
            return []
        for item in items:
            if len(item) > _MAX_ITEM:
                self.error(name, f"valeur de plus de {_MAX_ITEM} caractères", item)
                return []
        return _unique(items)


# Per-value caches around the domain validators: an import repeats the same phone numbers,
# addresses and hours many times, and these are the costly checks.
_phone = lru_cache(maxsize=65_536)(rules.normalize_phone)
_email = lru_cache(maxsize=65_536)(rules.normalize_email)
_hours = lru_cache(maxsize=65_536)(rules.check_opening_hours)
_url = lru_cache(maxsize=65_536)(rules.check_url)
# Fields the domain record check still runs (the cached ones above are done field by field).
_EXPENSIVE = frozenset({*rules.PHONE_FIELDS, *rules.EMAIL_FIELDS, *rules.URL_FIELDS})
_EXPENSIVE |= frozenset(rules.OPENING_HOURS_FIELDS)

# Relais field -> data·inclusion field, to name fields in reports as the file names them.
STRUCTURE_FIELD_NAMES: dict[str, str] = {
    "name": "nom",
    "siret": "siret",
    "description": "description",
    "address": "adresse",
    "address_complement": "complement_adresse",
    "postal_code": "code_postal",
    "commune_code": "code_insee",
    "commune": "commune",
    "latitude": "latitude",
    "longitude": "longitude",
    "phone": "telephone",
    "email": "courriel",
    "website": "site_web",
    "source_url": "lien_source",
    "opening_hours": "horaires_accueil",
    "accessibility_url": "accessibilite_lieu",
    "networks": "reseaux_porteurs",
    "reviewed_at": "date_maj",
}
SERVICE_FIELD_NAMES: dict[str, str] = {
    "name": "nom",
    "description": "description",
    "source_url": "lien_source",
    "reviewed_at": "date_maj",
    "type": "type",
    "thematiques": "thematiques",
    "fees": "frais",
    "fees_details": "frais_precisions",
    "publics": "publics",
    "publics_details": "publics_precisions",
    "access_conditions": "conditions_acces",
    "opening_hours": "horaires_accueil",
    "address": "adresse",
    "address_complement": "complement_adresse",
    "postal_code": "code_postal",
    "commune_code": "code_insee",
    "commune": "commune",
    "latitude": "latitude",
    "longitude": "longitude",
    "contact_name": "contact_nom_prenom",
    "contact_phone": "telephone",
    "contact_email": "courriel",
    "referral_phone": "telephone",
    "referral_email": "courriel",
    "reception_modes": "modes_accueil",
    "referral_modes": "modes_mobilisation",
    "referable_by": "mobilisable_par",
    "referral_url": "lien_mobilisation",
    "referral_details": "mobilisation_precisions",
    "weekly_hours": "volume_horaire_hebdomadaire",
    "duration_weeks": "nombre_semaines",
    "eligibility_zones": "zone_eligibilite",
}


def closest(value: str, known: Iterable[str]) -> str | None:
    """The known value a typo most likely meant, for a helpful error message."""
    matches = difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.75)
    return matches[0] if matches else None


def _apply_rules(
    check: _Row,
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


def _identity(check: _Row, default_source: str | None) -> tuple[str | None, str | None]:
    source_id = check.text("id", required=True, max_length=_MAX_ID)
    check.source_id = source_id
    check.errors = [msgspec.structs.replace(e, source_id=source_id) for e in check.errors]
    source = check.text("source", max_length=_MAX_SOURCE)
    if source is None and not check.has_error("source"):
        source = default_source
        if source is None:
            check.error("source", "champ requis (ou source par défaut de l'import)")
    return source, source_id


def _address(check: _Row) -> dict[str, Any]:
    return {
        "address": check.text("adresse", max_length=_MAX_ADDRESS),
        "address_complement": check.text("complement_adresse", max_length=_MAX_ADDRESS),
        "postal_code": check.code("code_postal"),
        "commune_code": check.code("code_insee"),
        "commune": check.text("commune", max_length=_MAX_COMMUNE),
        "latitude": check.number("latitude"),
        "longitude": check.number("longitude"),
    }


# --------------------------------------------------------------------------- structures


def parse_structure(
    raw: Mapping[str, Any], row: int, *, default_source: str | None = None
) -> StructureRecord | list[RowError]:
    """Validate one data·inclusion structure row and map it to Relais columns."""
    check = _Row("structure", row, raw if isinstance(raw, Mapping) else {})
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
    check = _Row("service", row, raw if isinstance(raw, Mapping) else {})
    if not isinstance(raw, Mapping):
        check.error("row", "objet JSON attendu")
        return check.errors
    source, source_id = _identity(check, default_source)
    structure_source_id = check.text("structure_id", required=True, max_length=_MAX_ID)
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
        "fees_details": check.text("frais_precisions", max_length=_MAX_TEXT),
        "publics": publics,
        "publics_details": check.text("publics_precisions", max_length=_MAX_TEXT),
        "access_conditions": check.text("conditions_acces", max_length=_MAX_TEXT),
        "opening_hours": check.checked("horaires_accueil", _hours),
        **_address(check),
        "contact_name": check.text("contact_nom_prenom", max_length=_MAX_CONTACT_NAME),
        "contact_phone": phone,
        "contact_email": email,
        "reception_modes": check.values("modes_accueil"),
        "referral_modes": referral_modes,
        "referable_by": check.values("mobilisable_par", min_items=1),
        "referral_url": check.checked("lien_mobilisation", _url),
        "referral_phone": phone if "telephoner" in referral_modes else None,
        "referral_email": email if "envoyer-un-courriel" in referral_modes else None,
        "referral_details": check.text("mobilisation_precisions", max_length=_MAX_TEXT),
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


def _zones(check: _Row) -> list[str]:
    zones: list[str] = []
    for code in check.values("zone_eligibilite", min_items=1):
        zone = zone_from_code(code)
        if zone is None:
            check.error("zone_eligibilite", _zone_reason(code), code)
        else:
            zones.append(zone)
    return _unique(zones)


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
    return _unique(codes)


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
