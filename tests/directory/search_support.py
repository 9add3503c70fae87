"""Search test support: one system per search backend, seeded with a small known catalogue.

Each backend gets its own system (so totals and orders are exactly known): SQLite, PostgreSQL
and, when MEILI_URL is set, PostgreSQL + Meilisearch. Entries are written straight into the
directory's tables and indexed with ``refresh_structure_search_index``, the same function the
write paths call.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.directory.models import Service, ServiceZone, Structure
from services.directory.search.indexing import refresh_structure_search_index
from services.kernel.db import new_uuid

MEILI_URL = os.environ.get("MEILI_URL", "")
SEARCH_BACKENDS = ["sqlite", "postgresql", "meilisearch"]

NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=800)

MONTPELLIER = ("34172", "Montpellier", "34000", 43.6108, 3.8767)
SETE = ("34301", "Sète", "34200", 43.4028, 3.6928)
LODEVE = ("34142", "Lodève", "34700", 43.7317, 3.3194)
MENDE = ("48095", "Mende", "48000", 44.5181, 3.5006)

ADMIN = "difficultes-administratives-ou-juridiques--accompagnement-aux-demarches-administratives"
DROITS = "difficultes-administratives-ou-juridiques--accompagnement-pour-lacces-aux-droits"
JUSTICE = (
    "difficultes-administratives-ou-juridiques--prendre-en-compte-une-problematique-judiciaire"
)


@dataclass
class Catalogue:
    structures: dict[str, uuid.UUID] = field(default_factory=dict)
    services: dict[str, uuid.UUID] = field(default_factory=dict)

    def names(self, ids: list[str]) -> list[str]:
        by_id = {str(v): k for k, v in {**self.services, **self.structures}.items()}
        return [by_id.get(i, i) for i in ids]


STRUCTURES: dict[str, dict[str, Any]] = {
    "ccas": {
        "name": "CCAS de Montpellier",
        "typology": "CCAS",
        "networks": ["ccas-cias"],
        "where": MONTPELLIER,
    },
    "caf": {
        "name": "Caisse d'allocations familiales de l'Hérault",
        "typology": "CAF",
        "networks": ["caf"],
        "where": (*MONTPELLIER[:3], 43.6040, 3.8800),
    },
    "toit": {"name": "Association Toit d'Abord", "typology": "ASSO", "networks": [], "where": SETE},
    "lodeve": {
        "name": "Maison France Services de Lodève",
        "typology": "Autre",
        "networks": ["france-services"],
        "where": LODEVE,
    },
    "gevaudan": {"name": "Plume du Gévaudan", "typology": "ASSO", "networks": [], "where": MENDE},
    "mission": {
        "name": "Mission locale Montpellier Méditerranée",
        "typology": "ML",
        "networks": ["mission-locale"],
        "where": (*MONTPELLIER[:3], 43.6000, 3.8900),
    },
    "zephyr": {"name": "Association Zéphyr", "typology": "ASSO", "networks": [], "where": LODEVE},
    "cuisine": {
        "name": "Les Fourneaux Solidaires",
        "typology": "ASSO",
        "networks": [],
        "where": (*SETE[:3], 43.4100, 3.6900),
    },
}

SERVICES: dict[str, dict[str, Any]] = {
    "retraite": {
        "structure": "ccas",
        "name": "Aide aux démarches de retraite",
        "description": "Nous vous aidons à constituer votre dossier et à contacter la CARSAT.",
        "thematiques": [ADMIN],
        "type": "accompagnement",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["commune:34172"],
        "appointment_required": True,
        "verified": True,
    },
    "domiciliation": {
        "structure": "ccas",
        "name": "Domiciliation administrative",
        "description": "Une adresse postale pour les personnes sans domicile stable.",
        "thematiques": [DROITS],
        "type": "accompagnement",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["commune:34172"],
    },
    "alimentaire": {
        "structure": "ccas",
        "name": "Aide alimentaire d'urgence",
        "description": "Colis et bons d'achat pour les familles en difficulté.",
        "thematiques": ["equipement-et-alimentation--alimentation"],
        "type": "aide-materielle",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["commune:34172"],
        "publics": ["familles"],
    },
    "jardin": {
        "structure": "ccas",
        "name": "Projet de jardin partagé",
        "status": "draft",
        "description": "Un jardin partagé pour rompre l'isolement.",
        "thematiques": ["remobilisation--lien-social"],
        "type": "atelier",
        "reception_modes": ["en-presentiel"],
        "zones": ["commune:34172"],
    },
    "allocataires": {
        "structure": "caf",
        "name": "Accueil des allocataires",
        "description": "Informations sur vos prestations : RSA, prime d'activité, aides au "
        "logement (APL), déclaration de situation.",
        "thematiques": [DROITS],
        "type": "information",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel", "a-distance"],
        "zones": ["departement:34"],
        "appointment_required": False,
        "verified": True,
    },
    "urgence": {
        "structure": "toit",
        "name": "Hébergement d'urgence",
        "description": "Mise à l'abri et hébergement temporaire des personnes à la rue.",
        "thematiques": ["logement-hebergement--rechercher-une-solution-dhebergement-temporaire"],
        "type": "accompagnement",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["departement:34"],
        "capacity_status": "waiting_list",
        "publics": ["personnes-en-situation-durgence"],
    },
    "hlm": {
        "structure": "toit",
        "name": "Recherche de logement social",
        "description": "Accompagnement des demandes HLM et des recours DALO.",
        "thematiques": ["logement-hebergement--louer-un-logement"],
        "type": "accompagnement",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["epci:200066355"],
        "verified": True,
    },
    "maintien": {
        "structure": "toit",
        "name": "Maintien dans le logement",
        "description": "Prévention des expulsions locatives et des impayés de loyer.",
        "thematiques": ["logement-hebergement--se-maintenir-dans-le-logement"],
        "type": "accompagnement",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["departement:34"],
        "capacity_status": "full",
        "stale": True,
    },
    "ecrivain-lodeve": {
        "structure": "lodeve",
        "name": "Permanence écrivain public",
        "description": "Aide à la rédaction de courriers administratifs et de lettres.",
        "thematiques": [ADMIN],
        "type": "accompagnement",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["commune:34142"],
    },
    "numerique": {
        "structure": "lodeve",
        "name": "Ateliers numériques",
        "description": "Apprendre à utiliser un ordinateur, internet et les services en ligne.",
        "thematiques": ["numerique--maitriser-les-fondamentaux-du-numerique"],
        "type": "atelier",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["commune:34142"],
    },
    "ecrivain-mende": {
        "structure": "gevaudan",
        "name": "Écrivain public",
        "description": "Rédaction de courriers, aide aux dossiers administratifs.",
        "thematiques": [ADMIN],
        "type": "accompagnement",
        "fees": "payant",
        "reception_modes": ["en-presentiel"],
        "zones": ["departement:48"],
    },
    "distance": {
        "structure": "gevaudan",
        "name": "Démarches en ligne accompagnées par téléphone",
        "description": "Un médiateur vous guide à distance pour vos démarches en ligne.",
        "thematiques": ["numerique--acceder-a-des-services-en-ligne"],
        "type": "accompagnement",
        "fees": "gratuit",
        "reception_modes": ["a-distance"],
        "zones": ["region:76"],
    },
    "jeunes": {
        "structure": "mission",
        "name": "Accompagnement des jeunes vers l'emploi",
        "description": "Conseils, CV, candidatures et aides pour les 16-25 ans.",
        "thematiques": ["trouver-un-emploi--repondre-a-des-offres-demploi"],
        "type": "accompagnement",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["epci:243400017"],
        "publics": ["jeunes"],
    },
    "justice": {
        "structure": "toit",
        "name": "Point justice de Sète",
        "description": "Consultations juridiques gratuites avec un avocat.",
        "thematiques": [JUSTICE],
        "type": "information",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["commune:34301"],
    },
    # "zephyr": only the structure's name of the first, the name of the second.
    "zephyr-accueil": {
        "structure": "zephyr",
        "name": "Accueil et orientation",
        "description": "Un accueil pour toutes vos questions.",
        "thematiques": [ADMIN],
        "type": "information",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["commune:34142"],
        "verified": True,
    },
    "zephyr-atelier": {
        "structure": "lodeve",
        "name": "Atelier d'écriture Zéphyr",
        "description": "Écrire ensemble, une fois par semaine.",
        "thematiques": [ADMIN],
        "type": "atelier",
        "fees": "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["commune:34142"],
        "capacity_status": "waiting_list",
    },
}
# A block of near-identical entries for paging (same words, so ties are broken by id).
PAGING_WORD = "cuisine"
for _i in range(23):
    SERVICES[f"cuisine-{_i:02d}"] = {
        "structure": "cuisine",
        "name": f"Atelier cuisine solidaire {_i + 1}",
        "description": "Cuisiner ensemble à petit prix.",
        "thematiques": ["equipement-et-alimentation--alimentation"],
        "type": "atelier",
        "fees": "payant" if _i % 3 == 0 else "gratuit",
        "reception_modes": ["en-presentiel"],
        "zones": ["commune:34301"],
        "verified": _i % 2 == 0,
    }


def structure_row(key: str, spec: dict[str, Any]) -> Structure:
    code, commune, postal, lat, lon = spec["where"]
    return Structure(
        id=new_uuid(),
        name=spec["name"],
        typology=spec["typology"],
        networks=spec["networks"],
        status="published",
        commune_code=code,
        commune=commune,
        postal_code=postal,
        latitude=lat,
        longitude=lon,
        created_at=NOW,
        updated_at=NOW,
        verified_at=NOW,
        reviewed_at=NOW,
        source="search-tests",
        source_id=f"{key}-{uuid.uuid4().hex[:8]}",
    )


def service_row(key: str, spec: dict[str, Any], structure_id: uuid.UUID) -> Service:
    stale = spec.get("stale", False)
    return Service(
        id=new_uuid(),
        structure_id=structure_id,
        name=spec["name"],
        description=spec.get("description", ""),
        type=spec.get("type"),
        thematiques=spec.get("thematiques", []),
        publics=spec.get("publics", []),
        fees=spec.get("fees"),
        reception_modes=spec.get("reception_modes", []),
        appointment_required=spec.get("appointment_required"),
        capacity_status=spec.get("capacity_status", "accepting"),
        status=spec.get("status", "published"),
        created_at=LONG_AGO if stale else NOW,
        updated_at=LONG_AGO if stale else NOW,
        verified_at=NOW if spec.get("verified") else None,
        reviewed_at=LONG_AGO if stale else NOW,
        zones=[ServiceZone(zone=z) for z in spec.get("zones", [])],
        sessions=[],
        source="search-tests",
        source_id=f"{key}-{uuid.uuid4().hex[:8]}",
    )


async def seed(db: Any) -> Catalogue:
    catalogue = Catalogue()
    async with db.session() as session:
        for key, spec in STRUCTURES.items():
            row = structure_row(key, spec)
            session.add(row)
            catalogue.structures[key] = row.id
        await session.flush()
        for key, spec in SERVICES.items():
            row = service_row(key, spec, catalogue.structures[spec["structure"]])
            session.add(row)
            catalogue.services[key] = row.id
        await session.flush()
        await refresh_structure_search_index(session, list(catalogue.structures.values()))
    return catalogue
