"""The one place where codes become words: taxonomy values (from the directory's taxonomies,
which are data), statuses, capacity, roles and scopes.

Taxonomy labels are read once through the public API (``/directory/v1/taxonomies/{name}``) and
kept for an hour. A value missing from a taxonomy is shown as its slug made readable
(« aide-alimentaire » → « aide alimentaire »), never dropped.
"""

from __future__ import annotations

import asyncio
import re
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
    "suspended": "retiré de l’annuaire par la modération du réseau, seule à pouvoir le republier",
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
# Why an entry is on « mes fiches à revoir » (the directory's review reasons).
REVIEW_REASONS = {
    "stale": "pas confirmée depuis longtemps",
    "never_verified": "jamais confirmée",
    "link_dead": "un lien ne fonctionne plus",
    "link_failing": "un lien ne répond plus depuis quelques jours",
    "capacity_unconfirmed": "disponibilité pas indiquée depuis plus d’un mois",
}
APPOINTMENT = {True: "sur rendez-vous", False: "sans rendez-vous", None: ""}

# Orientations: the referrals API's codes in words.
HANDOFF_STATES = {
    "sent": "envoyée",
    "acknowledged": "reçue (accusé de réception)",
    "accepted": "acceptée",
    "taken_over": "prise en charge",
    "closed": "clôturée",
    "declined": "refusée",
    "cancelled": "annulée",
    "expired": "expirée (sans réponse)",
    "relayed": "relayée",
}
REFERRAL_STATUS = {
    "in_progress": "en cours",
    "taken_over": "prise en charge",
    "closed": "clôturée",
    "withdrawn": "consentement retiré",
}
DECLINE_REASONS = {
    "out_of_scope": "hors de notre champ d’intervention",
    "no_capacity": "plus de place disponible",
    "person_unreachable": "personne injoignable",
    "conditions_not_met": "conditions d’accès non remplies",
    "duplicate": "orientation en double",
    "other": "autre motif",
}
CANCEL_REASONS = {
    "solved_elsewhere": "besoin résolu ailleurs",
    "person_changed_mind": "la personne a changé d’avis",
    "wrong_target": "erreur de destinataire",
    "duplicate": "orientation en double",
    "other": "autre motif",
    "consent_withdrawn": "consentement retiré",
}
OUTCOMES = {
    "solution_found": "solution trouvée",
    "partial": "solution partielle",
    "no_solution": "pas de solution",
    "did_not_come": "la personne ne s’est pas présentée",
}
URGENCY = {"normal": "normale", "high": "élevée", "urgent": "urgente"}
CHANNELS = {
    "walk_in": "accueil physique",
    "phone": "téléphone",
    "email": "courriel",
    "outreach": "aller-vers",
    "partner": "par un partenaire",
    "postal": "courrier",
}
DATA_CATEGORIES = {
    "identity": "identité (nom, prénom ou pseudonyme, âge)",
    "contact": "coordonnées (téléphone, courriel, adresse, langue, besoins d’accessibilité)",
    "situation": "situation (résumé et commentaires)",
    "documents": "pièces jointes",
}
CONSENT_GIVEN_BY = {"person": "la personne", "legal_representative": "son représentant légal"}
CONSENT_METHODS = {
    "oral": "à l’oral",
    "written": "par écrit",
    "electronic": "par voie électronique",
}
CONSENT_STATUS = {"active": "en vigueur", "expired": "expiré", "withdrawn": "retiré"}
CONTACT_METHODS = {
    "phone": "par téléphone",
    "email": "par courriel",
    "postal": "par courrier",
    "through_referrer": "par l’intermédiaire de la structure qui oriente",
}
SEXES = {"female": "femme", "male": "homme", "other": "autre", "unknown": "non renseigné"}
# Languages proposed for speaking to the person (BCP 47 codes, as the referrals API takes them).
LANGUAGES = {
    "fr": "français",
    "ar": "arabe",
    "en": "anglais",
    "es": "espagnol",
    "pt": "portugais",
    "it": "italien",
    "de": "allemand",
    "tr": "turc",
    "ro": "roumain",
    "ru": "russe",
    "uk": "ukrainien",
    "fa": "persan",
    "ps": "pachto",
    "ta": "tamoul",
    "zh": "chinois",
    "wo": "wolof",
    "bm": "bambara",
    "so": "somali",
    "ti": "tigrigna",
    "fsl": "langue des signes française",
}
MAIL_MODES = {
    "immediate": "un courriel à chaque nouvelle orientation reçue et à chaque rappel",
    "digest": "un récapitulatif quotidien",
    "off": "aucun courriel (la boîte de la structure reste prévenue)",
}
REFERENT_EVENTS = {
    "handoff.declined": "un partenaire refuse l’orientation",
    "handoff.expired": "un partenaire n’a pas répondu à temps (transmission expirée)",
    "handoff.taken_over": "un partenaire prend la personne en charge",
    "handoff.closed": "un partenaire clôture sa part (à vous de clôturer la vôtre)",
    "handoff.acknowledged": "un partenaire accuse réception",
    "handoff.accepted": "un partenaire accepte l’orientation",
}


_BAND = re.compile(r"^(?:under_(\d+)|(\d+)_(\d+)|(\d+)_plus|unknown)$")


def age_band(code: str) -> str:
    """An age band (REFERRALS_AGE_BANDS codes): « moins de 18 ans », « 18 à 25 ans »,
    « 75 ans et plus », « non renseignée »."""
    found = _BAND.match(code)
    if found is None:
        return code
    under, low, high, plus = found.groups()
    if under:
        return f"moins de {under} ans"
    if low:
        return f"{low} à {high} ans"
    if plus:
        return f"{plus} ans et plus"
    return "non renseignée"


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
