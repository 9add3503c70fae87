"""A referral's timeline in words: each event as a sentence, and the journey as one line
(« transmise à PIMMS le 3 décembre, accusé de réception le 4, … prise en charge par la CAF
le 9 »). Pure: the events, the handoffs and the structures' names in, French out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from services.web import labels
from services.web.clients.referrals import Handoff, Referral, TimelineEvent
from services.web.formats import MONTHS, PARIS

UNKNOWN = "une structure"


@dataclass(frozen=True)
class Step:
    at: datetime
    text: str  # the full sentence, for the history
    short: str | None = None  # the phrase of the one-line journey (key steps only)
    partner: str | None = None  # whom ``short`` is about (named once while it stays the same)
    named: bool = False  # ``short`` already names its partner


ENDINGS = {
    "both_parts_closed": "Orientation terminée : chaque partie a clôturé sa part.",
    "closing_delay_elapsed": (
        "Orientation terminée : le délai de clôture est passé sans la clôture de l’autre partie."
    ),
}


def _reason(words: dict[str, str], code: str | None) -> str:
    return f" ({words.get(code, code)})" if code else ""


def step(
    event: TimelineEvent,
    handoffs: dict[uuid.UUID, Handoff],
    names: dict[uuid.UUID, str],
    origin_id: uuid.UUID,
) -> Step | None:
    """One event in words; None for the events that say nothing to a person."""
    handoff = handoffs.get(event.handoff_id) if event.handoff_id else None
    to = handoff.to_structure_name if handoff else UNKNOWN
    sender = (
        names.get(handoff.from_structure_id, UNKNOWN)
        if handoff and handoff.from_structure_id
        else UNKNOWN
    )
    origin = names.get(origin_id, UNKNOWN)
    at = event.occurred_at
    kind = event.type
    if kind == "referral.created":
        return Step(at, f"Orientation enregistrée par {origin}.")
    if kind == "handoff.sent":
        if handoff and handoff.from_structure_id not in (None, origin_id):
            return Step(at, f"{sender} l’a relayée à {to}.", f"relayée à {to}", to, True)
        if handoff and handoff.position > 1:
            return Step(at, f"Réorientée vers {to}.", f"réorientée vers {to}", to, True)
        return Step(at, f"Transmise à {to}.", f"transmise à {to}", to, True)
    if kind == "handoff.acknowledged":
        return Step(at, f"{to} a accusé réception.", "accusé de réception", to)
    if kind == "handoff.accepted":
        return Step(at, f"{to} a accepté l’orientation.", "acceptée", to)
    if kind == "handoff.declined":
        reason = _reason(labels.DECLINE_REASONS, event.reason)
        return Step(at, f"{to} a refusé l’orientation{reason}.", f"refusée{reason}", to)
    if kind == "handoff.taken_over":
        return Step(
            at, f"{to} a pris la personne en charge.", f"prise en charge par {to}", to, True
        )
    if kind == "handoff.expired":
        return Step(
            at,
            f"{to} n’a pas répondu avant l’échéance : la transmission a expiré.",
            "expirée sans réponse",
            to,
        )
    if kind == "handoff.cancelled":
        if event.reason == "consent_withdrawn":
            return Step(at, f"Transmission à {to} arrêtée : consentement retiré.")
        reason = _reason(labels.CANCEL_REASONS, event.reason)
        return Step(at, f"Transmission à {to} annulée{reason}.", f"annulée{reason}", to)
    if kind == "handoff.reminder":
        return Step(at, f"Rappel envoyé à {to} avant l’échéance.")
    if kind == "referral.part_closed":
        outcome = _reason(labels.OUTCOMES, event.reason)
        closer = (
            names.get(event.actor_structure_id, UNKNOWN) if event.actor_structure_id else UNKNOWN
        )
        return Step(
            at, f"{closer} a clôturé sa part{outcome}.", f"part clôturée{outcome}", closer, False
        )
    if kind == "referral.closed":
        if event.reason in ENDINGS:
            return Step(at, ENDINGS[event.reason], "terminée")
        outcome = _reason(labels.OUTCOMES, event.reason)  # closed by one side alone, before
        return Step(at, f"Orientation clôturée{outcome}.", f"clôturée{outcome}")
    if kind == "referral.referent_changed":
        return Step(at, "Le suivi a été confié à un·e autre référent·e.")
    if kind == "consent.withdrawn":
        how = " depuis son lien de suivi" if event.actor_kind == "person" else ""
        return Step(
            at,
            f"La personne a retiré son consentement{how} : ses données ont été effacées.",
            "consentement retiré",
        )
    if kind == "referral.erased":
        return Step(at, "Données personnelles effacées (fin de la durée de conservation).")
    if kind == "attachment.added":
        return Step(at, "Pièce jointe ajoutée.")
    return None  # handoff.relayed, handoff.closed, referral.reoriented: said by their pair


def steps(
    referral: Referral, events: list[TimelineEvent], names: dict[uuid.UUID, str]
) -> list[Step]:
    handoffs = {h.id: h for h in referral.handoffs}
    found = [step(e, handoffs, names, referral.structure_id) for e in events]
    return [s for s in found if s is not None]


def _when(day: date, previous: date | None, today: date) -> str:
    """« le 4 » after a date of the same month, « le 2 janvier » otherwise; the year only when
    it is not this one."""
    first = "1er" if day.day == 1 else str(day.day)
    if previous is not None and (previous.year, previous.month) == (day.year, day.month):
        return f"le {first}"
    year = f" {day.year}" if day.year != today.year else ""
    return f"le {first} {MONTHS[day.month - 1]}{year}"


def journey(found: list[Step], today: date) -> str:
    """The key steps in one line, each with its day."""
    parts: list[str] = []
    previous: date | None = None
    partner: str | None = None
    for s in found:
        if s.short is None:
            continue
        day = s.at.astimezone(PARIS).date()
        phrase = s.short
        if s.partner and not s.named and s.partner != partner:
            phrase = f"{phrase} par {s.partner}"
        parts.append(f"{phrase} {_when(day, previous, today)}")
        previous = day
        partner = s.partner or partner
    text = ", ".join(parts)
    return text[:1].upper() + text[1:] if text else ""
