"""data·inclusion v1 fields, the Relais columns they map to, and the shapes of parsed rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

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
MAX_SOURCE = 100
MAX_ID = 200
MAX_ADDRESS = 500
MAX_COMMUNE = 200
MAX_CONTACT_NAME = 300
MAX_OPENING_HOURS = 1000
MAX_TEXT = 20_000
MAX_ITEMS = 500
MAX_ITEM = 100


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
