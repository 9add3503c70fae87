"""Deterministic generation of the demo territory as data·inclusion v1 rows.

``build_territory(seed, today)`` returns the structures and services exactly as data·inclusion
publishes them (every v1 field present, ``None`` when unknown), plus the Relais-only facts that
data·inclusion v1 cannot carry (structure typology and parent, documents to bring, capacity,
booking link, moderation status), keyed by the same ids. Same seed and same
``today`` → same output, byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from services.directory.demo.specs import (
    DEPARTEMENT,
    Offer,
    ServiceSpec,
    StructureSpec,
    catalogue,
)
from services.kernel.reference.geography import Commune, geography

SOURCE = "relais-demo"
DEFAULT_SEED = 26
ID_PREFIX = "drome-"
EMAIL_DOMAIN = "demo.relais.example"

# Structures created as drafts (a partner still setting up its entries).
DRAFT_STRUCTURES = frozenset({"pcb-montelimar"})
# How many further services are left as drafts, picked by the seeded generator.
DRAFT_SERVICES = 4

STRUCTURE_FIELDS = (
    "source", "id", "nom", "date_maj", "lien_source", "siret", "telephone", "courriel",
    "site_web", "description", "horaires_accueil", "accessibilite_lieu", "reseaux_porteurs",
    "adresse", "complement_adresse", "code_postal", "code_insee", "commune", "longitude",
    "latitude",
)  # fmt: skip
SERVICE_FIELDS = (
    "source", "structure_id", "id", "nom", "description", "lien_source", "date_maj", "type",
    "thematiques", "frais", "frais_precisions", "publics", "publics_precisions",
    "conditions_acces", "commune", "code_postal", "code_insee", "adresse", "complement_adresse",
    "longitude", "latitude", "telephone", "courriel", "modes_accueil", "zone_eligibilite",
    "contact_nom_prenom", "lien_mobilisation", "modes_mobilisation", "mobilisable_par",
    "mobilisation_precisions", "volume_horaire_hebdomadaire", "nombre_semaines",
    "horaires_accueil",
)  # fmt: skip

STREETS = (
    "place de la République", "avenue Victor Hugo", "rue Jean Jaurès", "boulevard Gambetta",
    "rue de la Gare", "avenue de Verdun", "rue Émile Zola", "place de la Mairie",
    "rue du Docteur Roux", "avenue des Alpes", "rue Pierre Curie", "boulevard Maurice Clerc",
    "rue des Écoles", "allée des Platanes", "rue du Vercors", "avenue de Provence",
    "place du Champ de Mars", "rue Faventines", "rue Jacques Prévert", "chemin des Vignes",
)  # fmt: skip


@dataclass
class Territory:
    structures: list[dict[str, Any]]
    services: list[dict[str, Any]]
    # Relais-only facts by data·inclusion id, named like the directory model's attributes.
    structure_extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    service_extras: dict[str, dict[str, Any]] = field(default_factory=dict)


def generate_territory(
    seed: int = DEFAULT_SEED, *, today: date | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The demo territory as data·inclusion v1 rows: (structures, services)."""
    territory = build_territory(seed, today=today)
    return territory.structures, territory.services


def build_territory(seed: int = DEFAULT_SEED, *, today: date | None = None) -> Territory:
    return _Builder(seed, today or date.today()).build()


class _Builder:
    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.geo = geography()
        self.phones: set[str] = set()
        # Services a structure may or may not offer: only those may be left as drafts, so the
        # core services every search test relies on are always published.
        self.optional: list[str] = []
        self.territory = Territory([], [])
        self.catalogue = catalogue()

    # --- helpers -----------------------------------------------------------------------------

    def commune(self, code: str) -> Commune:
        commune = self.geo.commune(code)
        if commune is None or commune.departement != DEPARTEMENT:
            raise ValueError(f"demo commune {code} is not in département {DEPARTEMENT}")
        return commune

    def point(self, code: str) -> tuple[float, float]:
        """Near the commune's approximate centre, within about 600 m."""
        lat, lon = self.catalogue.coordinates[code]
        return (
            round(lat + self.rng.uniform(-0.0055, 0.0055), 5),
            round(lon + self.rng.uniform(-0.0075, 0.0075), 5),
        )

    def phone(self) -> str:
        """A number in the ARCEP range reserved for fiction (04 65 71 xx xx)."""
        while True:
            number = f"+3346571{self.rng.randrange(10_000):04d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def date_maj(self, stale: bool) -> date:
        """Stale entries were last touched 7 to 24 months ago; a third of the others this month."""
        if stale:
            return self.today - timedelta(days=self.rng.randint(220, 720))
        if self.rng.random() < 0.35:
            return self.today - timedelta(days=self.rng.randint(1, 30))
        return self.today - timedelta(days=self.rng.randint(31, 150))

    # --- build -------------------------------------------------------------------------------

    def build(self) -> Territory:
        for spec in self.catalogue.structures:
            self.add_structure(spec)
        self.pick_draft_services()
        return self.territory

    def add_structure(self, spec: StructureSpec) -> None:
        commune = self.commune(spec.commune)
        sid = ID_PREFIX + spec.key
        lat, lon = self.point(spec.commune)
        stale = self.rng.random() < 0.12
        updated = self.date_maj(stale)
        description = spec.description or self.catalogue.descriptions.get(spec.kind) or None
        address = f"{self.rng.randint(1, 48)} {self.rng.choice(STREETS)}"
        phone = self.phone()
        email = f"{spec.key}@{EMAIL_DOMAIN}"
        row: dict[str, Any] = dict.fromkeys(STRUCTURE_FIELDS)
        row.update(
            source=SOURCE,
            id=sid,
            nom=spec.name,
            date_maj=updated.isoformat(),
            telephone=phone,
            courriel=email,
            site_web=spec.website,
            description=description.format(commune=commune.name) if description else None,
            horaires_accueil=spec.hours,
            reseaux_porteurs=list(spec.networks) or None,
            adresse=address,
            complement_adresse=spec.complement,
            code_postal=commune.postal_codes[0],
            code_insee=commune.code,
            commune=commune.name,
            latitude=lat,
            longitude=lon,
        )
        self.territory.structures.append(row)
        self.territory.structure_extras[sid] = {
            "typology": spec.typology,
            "parent": ID_PREFIX + spec.parent if spec.parent else None,
            "status": "draft" if spec.key in DRAFT_STRUCTURES else "published",
            "accepts_referrals": spec.kind not in {"banque-alimentaire", "siao"},
        }
        offers: tuple[Offer, ...] = self.catalogue.offers[spec.kind] + spec.extra
        for offer in offers:
            # Always draw, so adding a template later does not reshuffle the others.
            if self.rng.random() < offer.probability:
                self.add_service(spec, row, offer.spec, optional=offer.probability < 1)

    def add_service(
        self, owner: StructureSpec, structure: dict[str, Any], spec: ServiceSpec, *, optional: bool
    ) -> None:
        rng = self.rng
        commune = self.commune(owner.commune)
        service_id = f"{structure['id']}--{spec.key}"
        if any(s["id"] == service_id for s in self.territory.services):
            return
        stale = rng.random() < 0.12
        updated = self.date_maj(stale)
        name = rng.choice(spec.names).format(commune=commune.name, structure=owner.name)
        description = rng.choice(spec.descriptions).format(
            commune=commune.name, structure=owner.name
        )
        remote_only = spec.reception == ("a-distance",)
        if not remote_only:
            description += " " + rng.choice(
                (
                    f"Accueil à {commune.name}.",
                    f"Le service est assuré à {owner.name} ({commune.name}).",
                    f"Lieu : {structure['adresse']}, {commune.name}.",
                    "",
                )
            )
        zone = self.zone(spec.zone, commune)
        if spec.zone == "commune":
            description += f" Réservé aux habitants de {commune.name}."
        conditions = spec.conditions
        if spec.documents:
            documents = " ; ".join(d[0].lower() + d[1:] for d in spec.documents)
            conditions = f"{conditions + ' ' if conditions else ''}Pièces à fournir : {documents}."
        link = spec.referral_url or spec.booking_url
        booking = spec.booking_url
        if link and rng.random() < 0.08:
            link = dead(f"orientation/{service_id}")
        if booking and rng.random() < 0.08:
            booking = dead(f"rendez-vous/{service_id}")
        modes = [m for m in spec.mobilisation if m != "utiliser-lien-mobilisation" or link]
        lat, lon = self.point(owner.commune) if not remote_only else (None, None)
        row: dict[str, Any] = dict.fromkeys(SERVICE_FIELDS)
        row.update(
            source=SOURCE,
            structure_id=structure["id"],
            id=service_id,
            nom=name,
            description=" ".join(description.split()),
            date_maj=updated.isoformat(),
            type=spec.type,
            thematiques=list(spec.thematiques),
            frais=spec.fees,
            frais_precisions=spec.fees_details,
            publics=list(spec.publics),
            publics_precisions=spec.publics_details,
            conditions_acces=conditions,
            telephone=structure["telephone"],
            courriel=structure["courriel"] if rng.random() < 0.8 else None,
            modes_accueil=list(spec.reception),
            zone_eligibilite=zone,
            lien_mobilisation=link,
            modes_mobilisation=modes or ["telephoner"],
            mobilisable_par=list(spec.mobilisable_par),
            mobilisation_precisions=spec.mobilisation_details,
            volume_horaire_hebdomadaire=spec.weekly_hours,
            nombre_semaines=spec.weeks,
            horaires_accueil=spec.hours or owner.hours,
        )
        if not remote_only:
            row.update(
                commune=commune.name,
                code_postal=commune.postal_codes[0],
                code_insee=commune.code,
                adresse=structure["adresse"],
                complement_adresse=owner.complement,
                latitude=lat,
                longitude=lon,
            )
        self.territory.services.append(row)
        capacity, until = "accepting", None
        if spec.limited:
            r = rng.random()
            if r < 0.22:
                capacity = "full"
                until = (self.today + timedelta(days=rng.randint(20, 120))).isoformat()
            elif r < 0.4:
                capacity = "waiting_list"
        self.territory.service_extras[service_id] = {
            "documents_to_bring": list(spec.documents),
            "capacity_status": capacity,
            "capacity_until": until,
            "appointment_required": spec.appointment,
            "appointment_url": booking,
            "referral_response_days": spec.response_days,
            "status": "draft" if owner.key in DRAFT_STRUCTURES else "published",
        }
        if optional:
            self.optional.append(service_id)

    def zone(self, kind: str, commune: Commune) -> list[str]:
        if kind == "commune":
            return [commune.code]
        if kind == "epci" and commune.epci:
            return [commune.epci]
        if kind == "france":
            return ["france"]
        return [DEPARTEMENT]

    def pick_draft_services(self) -> None:
        extras = self.territory.service_extras
        published = sorted(sid for sid in self.optional if extras[sid]["status"] == "published")
        for sid in self.rng.sample(published, DRAFT_SERVICES):
            self.territory.service_extras[sid]["status"] = "draft"


def dead(path: str) -> str:
    """A link that can never resolve (RFC 2606 ``.invalid``): the link checker flags it."""
    return f"https://lien-mort.invalid/{path}"
