"""Validation and normalisation of directory entries (pure: no I/O, no framework).

Every rule answers with ``FieldError(field, reason)`` in French, and all errors of one record
are gathered so a client (or an import report) sees every problem at once. The record is a plain
``dict`` keyed by the native field names (see ``services.directory.schemas``), so the importer
reuses the same rules after mapping data·inclusion columns.

Entry points:
- ``check_structure(data, fields=None)`` / ``check_service`` / ``check_place`` →
  ``(normalised values, errors)``; ``fields`` limits the checks to what a PATCH changes (cross-field
  rules still run when one of their fields changed, against the merged record).
- ``validate_structure`` / ``validate_service`` / ``validate_place`` → ``list[FieldError]`` only.
- per-field helpers (``normalize_siret``, ``normalize_phone``, ``normalize_email``,
  ``check_url``, ``check_opening_hours``, ``check_zone``, ``unknown_terms``…) raise ``Invalid``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
import opening_hours
from email_validator import EmailNotValidError, validate_email
from stdnum import luhn
from stdnum.fr import siren, siret

from services.directory.domain import phones
from services.kernel.errors import FieldError
from services.kernel.reference.geography import geography
from services.kernel.reference.taxonomies import taxonomy


class Invalid(ValueError):
    """A value breaks a rule; ``reason`` is the French explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Fields holding taxonomy slugs -> taxonomy name (services.kernel.reference.taxonomy).
STRUCTURE_TAXONOMY_FIELDS: dict[str, str] = {
    "typology": "typologies-de-structures",
    "networks": "reseaux-porteurs",
}
SERVICE_TAXONOMY_FIELDS: dict[str, str] = {
    "type": "types-de-services",
    "thematiques": "thematiques",
    "publics": "publics",
    "fees": "frais",
    "reception_modes": "modes-accueil",
    "referral_modes": "modes-mobilisation",
    "referable_by": "personnes-mobilisatrices",
}
URL_FIELDS = ("website", "accessibility_url", "appointment_url", "referral_url", "source_url")
PHONE_FIELDS = ("phone", "referral_phone", "contact_phone")
EMAIL_FIELDS = ("email", "referral_email", "contact_email")
OPENING_HOURS_FIELDS = ("opening_hours",)
ADDRESS_FIELDS = ("postal_code", "commune_code", "commune", "latitude", "longitude")


# --- per-field helpers -----------------------------------------------------------------------


def normalize_siret(value: str) -> str:
    """14 digits with a valid Luhn key (python-stdnum, La Poste exception included)."""
    compact = siret.compact(value)
    if not compact.isdigit() or len(compact) != 14:
        raise Invalid("le SIRET doit comporter 14 chiffres")
    if not siret.is_valid(compact):
        raise Invalid("SIRET invalide (clé de contrôle incorrecte)")
    return compact


def normalize_siren(value: str) -> str:
    compact = siren.compact(value)
    if not compact.isdigit() or len(compact) != 9:
        raise Invalid("le SIREN doit comporter 9 chiffres")
    if not luhn.is_valid(compact):
        raise Invalid("SIREN invalide (clé de contrôle incorrecte)")
    return compact


def normalize_phone(value: str) -> str:
    """A French phone number in its stored form (see ``domain.phones``)."""
    try:
        return phones.normalize_phone(value)
    except phones.InvalidPhone as exc:
        raise Invalid(str(exc)) from None


def normalize_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise Invalid("adresse électronique invalide") from None


def check_url(value: str) -> str:
    if any(c.isspace() for c in value):
        raise Invalid("adresse web invalide (espaces interdits)")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise Invalid("adresse web invalide") from None
    if parts.scheme not in ("http", "https"):
        raise Invalid("adresse web invalide : elle doit commencer par http:// ou https://")
    if not host or ("." not in host and host != "localhost"):
        raise Invalid("adresse web invalide : nom de domaine manquant")
    return value


def check_opening_hours(value: str) -> str:
    """OSM ``opening_hours`` syntax (https://wiki.openstreetmap.org/wiki/Key:opening_hours)."""
    if not value.strip():
        raise Invalid("horaires vides")
    try:
        opening_hours.OpeningHours(value)
    except Exception:  # ParserError, and anything else the Rust parser may raise
        raise Invalid(
            "horaires invalides : syntaxe OSM opening_hours attendue (ex. « Mo-Fr 09:00-12:00 »)"
        ) from None
    return value


def check_commune_code(value: str) -> str:
    if not (len(value) == 5 and value[:2].isalnum() and value[2:].isdigit()):
        raise Invalid("code INSEE invalide (5 caractères, ex. 75056 ou 2A004)")
    if geography().commune(value) is None:
        raise Invalid("code INSEE inconnu du Code officiel géographique")
    return value


def check_postal_code(value: str) -> str:
    if not (len(value) == 5 and value.isdigit()):
        raise Invalid("code postal invalide (5 chiffres)")
    if not geography().resolve(value):
        raise Invalid("code postal inconnu")
    return value


def postal_code_matches(postal_code: str, commune_code: str) -> bool:
    geo = geography()
    commune = geo.commune(commune_code)
    if commune is None:
        return True  # reported on commune_code already
    candidates = {commune, geo.current(commune)}
    return any(postal_code in c.postal_codes for c in candidates)


def check_latitude(value: float) -> float:
    if not math.isfinite(value) or not -90 <= value <= 90:
        raise Invalid("latitude hors limites (entre -90 et 90)")
    return value


def check_longitude(value: float) -> float:
    if not math.isfinite(value) or not -180 <= value <= 180:
        raise Invalid("longitude hors limites (entre -180 et 180)")
    return value


def check_zone(value: str) -> str:
    if not geography().valid_zone(value):
        raise Invalid(
            f"zone inconnue « {value} » (attendu : commune:<insee>, epci:<siren>, "
            "departement:<code>, region:<code> ou france)"
        )
    return value


def unknown_terms(taxonomy_name: str, values: Iterable[str]) -> list[str]:
    return taxonomy(taxonomy_name).unknown(values)


# --- record checks ---------------------------------------------------------------------------


class _Checker:
    def __init__(self, data: Mapping[str, Any], fields: Collection[str] | None) -> None:
        self.data = dict(data)
        # A set: the importer passes a list of ~30 names and every rule asks about it.
        self.fields = None if fields is None else frozenset(fields)
        self.errors: list[FieldError] = []

    def wanted(self, *names: str) -> bool:
        keys = self.data.keys() if self.fields is None else self.fields
        # Set operation, not any(<generator>): called ~30 times per imported row.
        return not keys.isdisjoint(names)

    def error(self, field: str, reason: str, value: Any = None) -> None:
        self.errors.append(
            FieldError(field=field, reason=reason, value=msgspec.UNSET if value is None else value)
        )

    def scalar(self, field: str, check: Callable[[Any], Any]) -> None:
        if not self.wanted(field):
            return
        value = self.data.get(field)
        if value is None:
            return
        try:
            self.data[field] = check(value)
        except Invalid as exc:
            self.error(field, exc.reason, value)

    def terms(self, field: str, taxonomy_name: str) -> None:
        if not self.wanted(field):
            return
        value = self.data.get(field)
        if value is None:
            return
        values = value if isinstance(value, list) else [value]
        for bad in unknown_terms(taxonomy_name, values):
            self.error(field, f"valeur inconnue « {bad} » (taxonomie {taxonomy_name})", bad)
        if isinstance(value, list):
            self.data[field] = list(dict.fromkeys(value))  # drop duplicates, keep order

    def required_text(self, field: str) -> None:
        if self.fields is not None and field not in self.fields:
            return
        value = self.data.get(field)
        if not isinstance(value, str) or not value.strip():
            self.error(field, "champ obligatoire")
        else:
            self.data[field] = value.strip()

    def address(self) -> None:
        self.scalar("postal_code", check_postal_code)
        self.scalar("commune_code", check_commune_code)
        self.scalar("latitude", check_latitude)
        self.scalar("longitude", check_longitude)
        postal, code = self.data.get("postal_code"), self.data.get("commune_code")
        if (
            self.wanted("postal_code", "commune_code")
            and postal
            and code
            and not any(e.field in ("postal_code", "commune_code") for e in self.errors)
            and not postal_code_matches(postal, code)
        ):
            commune = geography().commune(code)
            name = commune.name if commune else code
            self.error(
                "postal_code", f"le code postal {postal} ne correspond pas à la commune {name}"
            )
        name_sent = self.fields is not None and "commune" in self.fields
        replace_name = self.fields is not None and "commune_code" in self.fields and not name_sent
        if self.wanted("commune_code") and code and (replace_name or not self.data.get("commune")):
            commune = geography().commune(code)
            if commune is not None:
                self.data["commune"] = commune.name
        if self.wanted("latitude", "longitude") and (
            (self.data.get("latitude") is None) != (self.data.get("longitude") is None)
        ):
            missing = "longitude" if self.data.get("longitude") is None else "latitude"
            self.error(missing, "latitude et longitude vont ensemble")

    def common(self) -> None:
        self.required_text("name")
        for field in URL_FIELDS:
            self.scalar(field, check_url)
        for field in PHONE_FIELDS:
            self.scalar(field, normalize_phone)
        for field in EMAIL_FIELDS:
            self.scalar(field, normalize_email)
        for field in OPENING_HOURS_FIELDS:
            self.scalar(field, check_opening_hours)
        self.address()


def check_structure(
    data: Mapping[str, Any], fields: Collection[str] | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    c = _Checker(data, fields)
    c.common()
    c.scalar("siret", normalize_siret)
    for field, name in STRUCTURE_TAXONOMY_FIELDS.items():
        c.terms(field, name)
    if c.wanted("labels") and isinstance(c.data.get("labels"), list):
        c.data["labels"] = list(dict.fromkeys(c.data["labels"]))
    return c.data, c.errors


def check_place(
    data: Mapping[str, Any], fields: Collection[str] | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    c = _Checker(data, fields)
    c.common()
    return c.data, c.errors


def check_service(
    data: Mapping[str, Any], fields: Collection[str] | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    c = _Checker(data, fields)
    c.common()
    for field, name in SERVICE_TAXONOMY_FIELDS.items():
        c.terms(field, name)
    if c.wanted("eligibility_zones") and c.data.get("eligibility_zones") is not None:
        zones = list(dict.fromkeys(c.data["eligibility_zones"]))
        for i, zone in enumerate(zones):
            try:
                check_zone(zone)
            except Invalid as exc:
                c.error(f"eligibility_zones[{i}]", exc.reason, zone)
        c.data["eligibility_zones"] = zones
    if c.wanted("sessions") and c.data.get("sessions"):
        for i, session in enumerate(c.data["sessions"]):
            hours = _get(session, "opening_hours")
            if hours is not None:
                try:
                    check_opening_hours(hours)
                except Invalid as exc:
                    c.error(f"sessions[{i}].opening_hours", exc.reason, hours)
    if c.wanted("appointment_slots") and c.data.get("appointment_slots"):
        for i, slot in enumerate(c.data["appointment_slots"]):
            starts, ends = _get(slot, "starts_at"), _get(slot, "ends_at")
            if isinstance(starts, datetime) and isinstance(ends, datetime) and ends <= starts:
                c.error(f"appointment_slots[{i}].ends_at", "la fin doit suivre le début")
    if c.wanted("referral_modes", "referral_url"):
        modes = c.data.get("referral_modes") or []
        if "utiliser-lien-mobilisation" in modes and not c.data.get("referral_url"):
            c.error(
                "referral_url",
                "obligatoire quand le mode « utiliser-lien-mobilisation » est choisi",
            )
    return c.data, c.errors


def _get(item: Any, name: str) -> Any:
    value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
    if isinstance(value, str) and name.endswith("_at"):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def validate_structure(data: Mapping[str, Any]) -> list[FieldError]:
    return check_structure(data)[1]


def validate_service(data: Mapping[str, Any]) -> list[FieldError]:
    return check_service(data)[1]


def validate_place(data: Mapping[str, Any]) -> list[FieldError]:
    return check_place(data)[1]


__all__ = [
    "FieldError",
    "Invalid",
    "check_commune_code",
    "check_latitude",
    "check_longitude",
    "check_opening_hours",
    "check_place",
    "check_postal_code",
    "check_service",
    "check_structure",
    "check_url",
    "check_zone",
    "normalize_email",
    "normalize_phone",
    "normalize_siren",
    "normalize_siret",
    "postal_code_matches",
    "unknown_terms",
    "validate_place",
    "validate_service",
    "validate_structure",
]
