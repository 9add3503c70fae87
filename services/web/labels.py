"""The one place where codes become words: taxonomy values (from the directory's taxonomies,
which are data), statuses, capacity, roles and scopes.

Taxonomy labels are read once through the public API (``/directory/v1/taxonomies/{name}``) and
kept for an hour. A value missing from a taxonomy is shown as its slug made readable
(« aide-alimentaire » → « aide alimentaire »), never dropped.
"""

from __future__ import annotations

import asyncio
import time

from services.web.clients.directory import DirectoryApi, Term

TAXONOMIES = (
    "thematiques",
    "categories-thematiques",
    "publics",
    "types-de-services",
    "frais",
    "modes-accueil",
    "modes-mobilisation",
    "personnes-mobilisatrices",
    "reseaux-porteurs",
    "typologies-de-structures",
)
TTL_SECONDS = 3600.0

STATUS = {
    "draft": "brouillon",
    "published": "publié",
    "suspended": "suspendu",
    "archived": "archivé",
}
STATUS_HINT = {
    "draft": "visible seulement par votre structure",
    "published": "visible par tous dans l’annuaire",
    "suspended": "retiré de l’annuaire",
    "archived": "archivé",
}
CAPACITY = {
    "accepting": "accepte de nouvelles personnes",
    "waiting_list": "liste d’attente",
    "full": "complet",
}
CAPACITY_SHORT = {
    "accepting": "Places disponibles",
    "waiting_list": "Liste d’attente",
    "full": "Complet",
}
ROLES = {"member": "membre", "admin": "administrateur·rice", "moderator": "modération"}
ACCOUNT_STATUS = {"active": "actif", "invited": "invité·e", "disabled": "désactivé"}
SCOPES = {
    "directory:read": "lire l’annuaire (y compris les brouillons de la structure)",
    "directory:write": "modifier les fiches de la structure",
    "referrals:read": "lire les orientations",
    "referrals:write": "envoyer et traiter des orientations",
    "stats:read": "lire les statistiques",
    "webhooks:manage": "gérer les webhooks",
    "openid": "identifier la personne",
    "profile": "nom de la personne",
    "email": "adresse e-mail de la personne",
}
LINK_STATES = {
    "ok": "fonctionne",
    "failing": "ne répond plus",
    "dead": "lien mort",
    "unchecked": "",
}
FIELDS = {
    "website": "site internet",
    "appointment_url": "prise de rendez-vous en ligne",
    "referral_url": "formulaire d’orientation",
    "accessibility_url": "informations d’accessibilité",
    "source_url": "source",
}
APPOINTMENT = {True: "sur rendez-vous", False: "sans rendez-vous", None: ""}


def readable(slug: str) -> str:
    return slug.replace("--", " : ").replace("-", " ")


class Labels:
    """Taxonomy labels, loaded through the directory API and refreshed hourly."""

    def __init__(self) -> None:
        self._terms: dict[str, dict[str, Term]] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return bool(self._terms) and time.monotonic() - self._loaded_at < TTL_SECONDS

    async def load(self, api: DirectoryApi) -> None:
        if self.loaded:
            return
        async with self._lock:
            if self.loaded:
                return
            found = await asyncio.gather(*(api.taxonomy(name) for name in TAXONOMIES))
            self._terms = {t.name: {term.value: term for term in t.terms} for t in found}
            self._loaded_at = time.monotonic()

    def label(self, taxonomy: str, value: str | None) -> str:
        if not value:
            return ""
        term = self._terms.get(taxonomy, {}).get(value)
        return term.label if term else readable(value)

    def terms(self, taxonomy: str) -> list[Term]:
        return list(self._terms.get(taxonomy, {}).values())

    def thematique(self, value: str) -> str:
        if value in self._terms.get("categories-thematiques", {}):
            return self.label("categories-thematiques", value)
        return self.label("thematiques", value)

    def categories(self) -> list[tuple[Term, list[Term]]]:
        """Categories of thematiques, each with its sub-thematiques (for filters and forms)."""
        subs = self.terms("thematiques")
        return [
            (category, [t for t in subs if t.value.startswith(category.value + "--")])
            for category in self.terms("categories-thematiques")
        ]
