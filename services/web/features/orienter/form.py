"""The « Orienter une personne » form, step by step: what each step holds, the request the
referrals API receives in the end, and where the API's field errors go back to.

Values are kept as typed (lists of strings per field), so a step shows again exactly what was
entered. The API holds the rules: here only what a form must do — required fields present, a
year or a date that reads as one.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import msgspec

from services.web.formats import PARIS

STEPS = {
    "personne": "La personne",
    "besoin": "Sa demande",
    "partenaire": "Le partenaire",
    "consentement": "Son consentement",
    "documents": "Documents",
    "verification": "Vérifier et envoyer",
}
REQUIRED_STEPS = ("personne", "besoin", "partenaire", "consentement")
PERSON = (
    "first_name",
    "last_name",
    "pseudonym",
    "birth_year",
    "contact_method",
    "phone",
    "email",
    "postal_address",
    "preferred_language",
    "accessibility_needs",
)
NEED = ("thematiques", "summary", "urgency", "channel", "age_band", "sex")
CONSENT = (
    "given_by",
    "method",
    "purpose",
    "data_categories",
    "recipients",
    "further_partners",
    "onward_relay_allowed",
    "expires_on",
)
FIELDS = {"personne": PERSON, "besoin": NEED, "consentement": CONSENT}
LIST_FIELDS = {"thematiques", "data_categories", "recipients"}
FLAGS = {"further_partners", "onward_relay_allowed"}
# Field names as a person reads them (error summaries).
FIELD_LABELS = {
    "identite": "Nom, prénom ou pseudonyme",
    "first_name": "Prénom",
    "last_name": "Nom",
    "pseudonym": "Pseudonyme",
    "birth_year": "Année de naissance",
    "contact_method": "Comment la joindre",
    "phone": "Téléphone",
    "email": "Courriel",
    "postal_address": "Adresse postale",
    "preferred_language": "Langue",
    "accessibility_needs": "Besoins d’accessibilité",
    "thematiques": "Thématiques",
    "summary": "Résumé de la situation",
    "urgency": "Urgence",
    "channel": "Canal d’arrivée",
    "age_band": "Tranche d’âge",
    "sex": "Sexe",
    "given_by": "Consentement donné par",
    "method": "Forme du consentement",
    "purpose": "Finalité",
    "data_categories": "Données partagées",
    "recipients": "Partenaires destinataires",
    "expires_on": "Valable jusqu’au",
    "cible": "Partenaire",
    "documents": "Document",
}
CONSENT_MONTHS = 6
DEFAULT_CATEGORIES = ["identity", "contact", "situation"]
_YEAR = re.compile(r"^\d{4}$")


class Partner(msgspec.Struct, kw_only=True):
    structure_id: uuid.UUID
    structure_name: str
    service_id: uuid.UUID | None = None
    service_name: str | None = None


class Values(msgspec.Struct, kw_only=True):
    """Everything the form holds (sealed server-side by ``services.web.drafts``)."""

    target: Partner | None = None
    # Further partners the person may name as recipients (shown by name on the consent step).
    partners: list[Partner] = []
    fields: dict[str, dict[str, list[str]]] = {}
    done: list[str] = []
    # The API's messages, per step and field, after a refused « Envoyer ».
    errors: dict[str, dict[str, str]] = {}

    def one(self, step: str, name: str) -> str:
        found = self.fields.get(step, {}).get(name)
        return found[0] if found else ""

    def many(self, step: str, name: str) -> list[str]:
        return list(self.fields.get(step, {}).get(name, []))

    def missing(self) -> str | None:
        """The first step still to fill in before sending."""
        for step in REQUIRED_STEPS:
            if step == "partenaire":
                if self.target is None:
                    return step
            elif step not in self.done:
                return step
        return None

    def recipients(self) -> list[Partner]:
        """The partners the consent names: the target first, then the others, by name."""
        chosen = set(self.many("consentement", "recipients"))
        known = [self.target] if self.target else []
        known += [
            p
            for p in self.partners
            if not self.target or p.structure_id != self.target.structure_id
        ]
        return [p for p in known if str(p.structure_id) in chosen]


ENCODER = msgspec.json.Encoder()
DECODER = msgspec.json.Decoder(Values)


def encode(values: Values) -> bytes:
    return ENCODER.encode(values)


def decode(raw: bytes) -> Values:
    return DECODER.decode(raw) if raw else Values()


def next_step(step: str, values: Values) -> str:
    order = list(STEPS)
    following = order[order.index(step) + 1]
    if following == "partenaire" and values.target is not None:
        return "consentement"
    return following


def previous_step(step: str, values: Values) -> str:
    order = list(STEPS)
    before = order[max(order.index(step) - 1, 0)]
    if before == "partenaire" and values.target is not None:
        return "besoin"
    return before


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def defaults(
    step: str, values: Values, today: date, service_thematiques: list[str]
) -> dict[str, list[str]]:
    """What a step proposes before it was ever filled in."""
    if step == "besoin":
        return {
            "thematiques": [t for t in service_thematiques if "--" in t],
            "urgency": ["normal"],
            "age_band": ["unknown"],
            "sex": ["unknown"],
        }
    if step == "consentement":
        return {
            "given_by": ["person"],
            "method": ["oral"],
            "data_categories": list(DEFAULT_CATEGORIES),
            # The target receives the data only if the consent names it: proposed by default.
            "recipients": [str(values.target.structure_id)] if values.target else [],
            "expires_on": [add_months(today, CONSENT_MONTHS).isoformat()],
        }
    return {}


def read_step(
    step: str, form: dict[str, list[str]], target: Partner | None = None
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """A step's values from its posted form, and what the form itself must refuse."""
    kept: dict[str, list[str]] = {}
    for name in FIELDS[step]:
        raw = [v.strip() for v in form.get(name, []) if v.strip()]
        if raw:
            kept[name] = raw if name in LIST_FIELDS else raw[:1]
    errors: dict[str, str] = {}

    def get(name: str) -> str:
        return (kept.get(name) or [""])[0]

    if step == "personne":
        if not (get("first_name") or get("last_name") or get("pseudonym")):
            errors["identite"] = "indiquez un prénom, un nom ou un pseudonyme"
        if get("birth_year") and not _YEAR.match(get("birth_year")):
            errors["birth_year"] = "indiquez l’année sur quatre chiffres, par exemple 1984"
    elif step == "besoin":
        if not kept.get("thematiques"):
            errors["thematiques"] = "choisissez au moins une thématique"
        if not get("channel"):
            errors["channel"] = "indiquez comment la demande est arrivée"
    elif step == "consentement":
        for name, reason in (
            ("given_by", "indiquez qui a donné son accord"),
            ("method", "indiquez sous quelle forme"),
            ("purpose", "indiquez dans quel but les données sont partagées"),
        ):
            if not get(name):
                errors[name] = reason
        if not get("expires_on"):
            errors["expires_on"] = "indiquez jusqu’à quand l’accord vaut"
        elif day(get("expires_on")) is None:
            errors["expires_on"] = "date invalide (jour/mois/année)"
        if target is not None and str(target.structure_id) not in kept.get("recipients", []):
            # The API refuses a target the consent does not name: said here, on its step.
            errors["recipients"] = (
                f"cochez {target.structure_name} : la demande ne peut lui être envoyée que si "
                "la personne accepte qu’elle voie ses données"
            )
    return kept, errors


def day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def end_ofday(day: date) -> datetime:
    """The consent holds until the end of that day, in France."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=PARIS) - timedelta(
        seconds=1
    )


def request_body(values: Values) -> dict[str, Any]:
    """The CreateReferral request. Built only from the stored values, so the same draft always
    gives the same bytes (what a retry with the same Idempotency-Key must send)."""
    assert values.target is not None
    person: dict[str, Any] = {}
    for name in PERSON:
        value = values.one("personne", name)
        if value:
            person[name] = int(value) if name == "birth_year" and value.isdigit() else value
    need: dict[str, Any] = {
        "thematiques": values.many("besoin", "thematiques"),
        "channel": values.one("besoin", "channel"),
        "urgency": values.one("besoin", "urgency") or "normal",
        "age_band": values.one("besoin", "age_band") or "unknown",
        "sex": values.one("besoin", "sex") or "unknown",
    }
    if values.one("besoin", "summary"):
        need["summary"] = values.one("besoin", "summary")
    consent: dict[str, Any] = {
        "given_by": values.one("consentement", "given_by"),
        "method": values.one("consentement", "method"),
        "purpose": values.one("consentement", "purpose"),
        "data_categories": values.many("consentement", "data_categories"),
        "recipients": [str(p.structure_id) for p in values.recipients()],
        "further_partners": bool(values.one("consentement", "further_partners")),
        "onward_relay_allowed": bool(values.one("consentement", "onward_relay_allowed")),
    }
    expires = day(values.one("consentement", "expires_on"))
    if expires is not None:
        consent["expires_at"] = end_ofday(expires).isoformat()
    target: dict[str, Any] = {"structure_id": str(values.target.structure_id)}
    if values.target.service_id:
        target["service_id"] = str(values.target.service_id)
    return {"person": person, "need": need, "consent": consent, "target": target}


_SECTIONS = {
    "person": "personne",
    "need": "besoin",
    "consent": "consentement",
    "target": "partenaire",
}
_RENAMED = {"expires_at": "expires_on", "": "identite"}


def place_errors(errors: dict[str, str]) -> dict[str, dict[str, str]]:
    """The API's field errors (``person.phone``, ``consent.expires_at``…), per step and field."""
    placed: dict[str, dict[str, str]] = {}
    for field, reason in errors.items():
        head, _, rest = field.partition(".")
        step = _SECTIONS.get(head, "verification")
        name = re.split(r"[.\[]", rest)[0]
        if step == "partenaire":
            name = "cible"
        elif step == "verification":
            name = field
        else:
            name = _RENAMED.get(name, name)
            if step != "personne" and name == "identite":
                name = FIELDS[step][0]
        placed.setdefault(step, {}).setdefault(name, reason)
    return placed
