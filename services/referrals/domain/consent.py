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
