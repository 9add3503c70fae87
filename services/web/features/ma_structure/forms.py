"""The edit forms of Ma structure: which fields, how each is typed, and back to the API's JSON.

The API holds the rules: values are sent as typed (trimmed; empty means « none ») and its field
errors come back next to each field. Only the shape is handled here (lists one per line,
checkboxes, yes / no), except the opening hours: a row per day, checked here in French before
they become the API's ``opening_hours`` text (see hours_form.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.web.deps import Form
from services.web.features.ma_structure.hours_form import checked, editor_of, typed_editor
from services.web.formats import hours_fr


# kind: text | textarea | email | tel | url | lines | terms | yesno | choice | hours
@dataclass(frozen=True)
class Spec:
    name: str
    label: str
    kind: str = "text"
    hint: str = ""
    taxonomy: str = ""
    required: bool = False
    nullable: bool = True  # empty means « none » (null); otherwise an empty text


SERVICE_FIELDS = (
    Spec("name", "Nom du service", required=True, nullable=False),
    Spec(
        "description",
        "Description",
        "textarea",
        "Ce que le service apporte, en quelques phrases.",
        nullable=False,
    ),
    Spec("type", "Type de service", "choice", taxonomy="types-de-services"),
    Spec("thematiques", "Thématiques", "terms", taxonomy="thematiques"),
    Spec("publics", "Publics", "terms", taxonomy="publics"),
    Spec("publics_details", "Précisions sur les publics", "textarea"),
    Spec("fees", "Coût", "choice", taxonomy="frais"),
    Spec("fees_details", "Précisions sur le coût", "textarea"),
    Spec("access_conditions", "Conditions d’accès", "textarea"),
    Spec("documents_to_bring", "Documents à apporter", "lines", "Un document par ligne."),
    Spec("reception_modes", "Modes d’accueil", "terms", taxonomy="modes-accueil"),
    Spec("appointment_required", "Rendez-vous", "yesno"),
    Spec(
        "opening_hours",
        "Horaires",
        "hours",
        "Si tous les jours sont vides, la fiche montre les horaires de la structure.",
    ),
    Spec("referral_modes", "Comment orienter", "terms", taxonomy="modes-mobilisation"),
    Spec("referable_by", "Qui peut orienter", "terms", taxonomy="personnes-mobilisatrices"),
    Spec("referral_details", "Précisions pour orienter", "textarea"),
    Spec("referral_phone", "Téléphone pour orienter", "tel"),
    Spec("referral_email", "E-mail pour orienter", "email"),
    Spec("contact_name", "Contact : nom"),
    Spec("contact_phone", "Contact : téléphone", "tel"),
    Spec("contact_email", "Contact : e-mail", "email"),
    Spec("contact_public", "Ce contact peut être donné au public", "yesno"),
)

STRUCTURE_FIELDS = (
    Spec("name", "Nom de la structure", required=True, nullable=False),
    Spec("description", "Présentation", "textarea"),
    Spec("phone", "Téléphone", "tel", "Par exemple : 04 75 00 00 00."),
    Spec("email", "E-mail", "email"),
    Spec("website", "Site internet", "url", "Adresse complète, commençant par https://"),
    Spec(
        "opening_hours",
        "Horaires d’ouverture",
        "hours",
        "Si tous les jours sont vides, la fiche ne montre pas d’horaires.",
    ),
    Spec("address", "Adresse"),
    Spec("address_complement", "Complément d’adresse"),
    Spec("postal_code", "Code postal"),
    Spec("commune", "Commune"),
    Spec("accessibility_url", "Page d’informations sur l’accessibilité", "url"),
)

PLACE_FIELDS = (
    Spec("name", "Nom du lieu", required=True, nullable=False),
    Spec("description", "Description", "textarea"),
    Spec(
        "opening_hours",
        "Horaires",
        "hours",
        "Si tous les jours sont vides, la fiche ne montre pas d’horaires pour ce lieu.",
    ),
    Spec("address", "Adresse"),
    Spec("postal_code", "Code postal"),
    Spec("commune", "Commune"),
)

FORMS = {"services": SERVICE_FIELDS, "structures": STRUCTURE_FIELDS, "places": PLACE_FIELDS}


def shown(spec: Spec, value: Any) -> Any:
    """The value as the form shows it."""
    if spec.kind == "lines":
        return "\n".join(value or [])
    if spec.kind == "terms":
        return list(value or [])
    if spec.kind == "yesno":
        return "" if value is None else ("oui" if value else "non")
    if spec.kind == "hours":
        return editor_of(value)
    return "" if value is None else value


def values_of(specs: tuple[Spec, ...], entry: Any) -> dict[str, Any]:
    return {spec.name: shown(spec, getattr(entry, spec.name, None)) for spec in specs}


def typed_values(specs: tuple[Spec, ...], form: Form) -> dict[str, Any]:
    """What the person typed, as the form shows it again (after an error)."""
    found: dict[str, Any] = {}
    for spec in specs:
        if spec.kind == "terms":
            found[spec.name] = form.get(spec.name, [])
        elif spec.kind == "hours":
            found[spec.name] = typed_editor(form, spec.name)
        else:
            found[spec.name] = (form.get(spec.name) or [""])[0]
    return found


def changes_of(specs: tuple[Spec, ...], form: Form) -> dict[str, Any]:
    """The PATCH body: every field of the form, typed for the API."""
    body: dict[str, Any] = {}
    for spec in specs:
        raw = form.get(spec.name, [])
        text = raw[0].strip() if raw else ""
        if spec.kind == "terms":
            body[spec.name] = [v for v in raw if v]
        elif spec.kind == "hours":
            body[spec.name] = checked(form, spec.name)[0]
        elif spec.kind == "lines":
            body[spec.name] = [line.strip() for line in text.splitlines() if line.strip()]
        elif spec.kind == "yesno":
            if spec.name == "contact_public":
                body[spec.name] = text == "oui"
            else:
                body[spec.name] = {"oui": True, "non": False}.get(text)
        else:
            body[spec.name] = text if text or not spec.nullable else None
    return body


def form_errors(specs: tuple[Spec, ...], form: Form) -> dict[str, str]:
    """What is wrong before asking the API (the opening hours rows), by input name."""
    errors: dict[str, str] = {}
    for spec in specs:
        if spec.kind == "hours":
            errors.update(checked(form, spec.name)[1])
    return errors


def field_of(api_field: str) -> str:
    """The form field an API error names (``documents_to_bring[2]`` → ``documents_to_bring``)."""
    return api_field.split("[", 1)[0].split(".", 1)[0]


def said(value: Any, name: str = "") -> str:
    """A value of the history, in words (opening hours as the fiche says them)."""
    if value is None or value == "" or value == []:
        return "(vide)"
    if name == "opening_hours" and isinstance(value, str):
        return " ; ".join(hours_fr(value))
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def changed_since(
    history: list[Any], since: datetime | None, specs: tuple[Spec, ...]
) -> list[tuple[str, str, str]]:
    """(label, before, after) of what others changed after ``since`` (newest value wins)."""
    labels = {spec.name: spec.label for spec in specs}
    found: dict[str, tuple[str, str, str]] = {}
    for entry in sorted(history, key=lambda e: e.at):
        if since is not None and entry.at <= since:
            continue
        for name, pair in entry.changes.items():
            if name not in labels or not isinstance(pair, list) or len(pair) != 2:
                continue
            before = found[name][1] if name in found else said(pair[0], name)
            found[name] = (labels[name], before, said(pair[1], name))
    return list(found.values())
