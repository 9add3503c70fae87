"""Who may see which personal data of a referral: the consent rules, as pure functions."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


class Category(enum.StrEnum):
    IDENTITY = "identity"  # names, pseudonym, birth date or year
    CONTACT = "contact"  # how to reach the person, language, accessibility needs
    SITUATION = "situation"  # the free-text summary of the situation
    DOCUMENTS = "documents"  # attachments


ALL_CATEGORIES = frozenset(Category)

# Which personal fields belong to which category.
PERSON_FIELDS: dict[str, Category] = {
    "first_name": Category.IDENTITY,
    "last_name": Category.IDENTITY,
    "pseudonym": Category.IDENTITY,
    "birth_year": Category.IDENTITY,
    "birth_date": Category.IDENTITY,
    "contact_method": Category.CONTACT,
    "phone": Category.CONTACT,
    "email": Category.CONTACT,
    "postal_address": Category.CONTACT,
    "preferred_language": Category.CONTACT,
    "accessibility_needs": Category.CONTACT,
}


@dataclass(frozen=True)
class ConsentTerms:
    categories: frozenset[Category]
    recipients: frozenset[uuid.UUID]
    further_partners: bool
    expires_at: datetime | None
    withdrawn: bool

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def visible_categories(
    terms: ConsentTerms,
    *,
    origin_structure_id: uuid.UUID,
    receivers: Iterable[uuid.UUID],
    structure_id: uuid.UUID | None,
    now: datetime,
) -> frozenset[Category]:
    """Categories of personal data ``structure_id`` may see now.

    The origin structure recorded the data and keeps seeing it until consent is withdrawn.
    A receiving structure sees the consented categories only while it is among ``receivers``
    (the structures holding the person through a handoff, see ``visibility``), the consent names
    it (or covers further partners) and has not expired. Anyone else sees none.
    """
    if terms.withdrawn or structure_id is None:
        return frozenset()
    if structure_id == origin_structure_id:
        return ALL_CATEGORIES
    if structure_id not in set(receivers):
        return frozenset()
    if terms.expired(now):
        return frozenset()
    if structure_id not in terms.recipients and not terms.further_partners:
        return frozenset()
    return terms.categories


def filter_person(person: dict[str, object], categories: frozenset[Category]) -> dict[str, object]:
    return {
        key: value
        for key, value in person.items()
        if value is not None and PERSON_FIELDS.get(key) in categories
    }


# Why a structure the consent does not cover cannot receive the person (the problem's detail).
TARGET_NOT_NAMED = (
    "le consentement ne nomme pas la structure d'accueil : ajoutez-la aux destinataires "
    "(the consent does not name the target structure: add it to the recipients)"
)
RELAY_NOT_COVERED = (
    "le consentement ne couvre pas cette structure : elle doit figurer parmi les destinataires "
    "ou la personne doit avoir accepté d'autres partenaires "
    "(the consent does not cover this structure: it must be among the recipients, or the "
    "person must have allowed further partners)"
)


REORIENT_NOT_COVERED = (
    "le consentement ne couvre pas cette structure : indiquez que la personne accepte qu'elle "
    "reçoive ses données (add_recipient) "
    "(the consent does not cover this structure: say the person agrees to it receiving their "
    "data with add_recipient)"
)


def names(recipients: Iterable[uuid.UUID | str], structure_id: uuid.UUID) -> bool:
    """The consent names ``structure_id`` among its recipients."""
    return str(structure_id) in {str(r) for r in recipients}


def covers_relay(
    recipients: Iterable[uuid.UUID | str],
    *,
    further_partners: bool,
    origin_structure_id: uuid.UUID,
    target: uuid.UUID,
) -> bool:
    """A relay may hand the person to ``target``: the consent names it or covers further
    partners. The one exception is a relay back to the origin structure, which recorded the data
    and sees it anyway."""
    return target == origin_structure_id or further_partners or names(recipients, target)
