"""Closed lists of the referral model (codes are stable API values; labels are French)."""

from __future__ import annotations

import enum


class DeclineReason(enum.StrEnum):
    OUT_OF_SCOPE = "out_of_scope"
    NO_CAPACITY = "no_capacity"
    PERSON_UNREACHABLE = "person_unreachable"
    CONDITIONS_NOT_MET = "conditions_not_met"
    DUPLICATE = "duplicate"
    OTHER = "other"


DECLINE_REASON_LABELS = {
    DeclineReason.OUT_OF_SCOPE: "hors du champ d'intervention",
    DeclineReason.NO_CAPACITY: "plus de place disponible",
    DeclineReason.PERSON_UNREACHABLE: "personne injoignable",
    DeclineReason.CONDITIONS_NOT_MET: "conditions d'accès non remplies",
    DeclineReason.DUPLICATE: "orientation en double",
    DeclineReason.OTHER: "autre motif",
}


class CancelReason(enum.StrEnum):
    SOLVED_ELSEWHERE = "solved_elsewhere"
    PERSON_CHANGED_MIND = "person_changed_mind"
    WRONG_TARGET = "wrong_target"
    DUPLICATE = "duplicate"
    OTHER = "other"


class Outcome(enum.StrEnum):
    SOLUTION_FOUND = "solution_found"
    PARTIAL = "partial"
    NO_SOLUTION = "no_solution"
    DID_NOT_COME = "did_not_come"


class Channel(enum.StrEnum):
    WALK_IN = "walk_in"
    PHONE = "phone"
    EMAIL = "email"
    OUTREACH = "outreach"
    PARTNER = "partner"
    POSTAL = "postal"  # a letter (requests also arrive by post)


class Urgency(enum.StrEnum):
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class ConsentGivenBy(enum.StrEnum):
    PERSON = "person"
    LEGAL_REPRESENTATIVE = "legal_representative"


class ConsentMethod(enum.StrEnum):
    ORAL = "oral"
    WRITTEN = "written"
    ELECTRONIC = "electronic"


class ContactMethod(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    POSTAL = "postal"
    THROUGH_REFERRER = "through_referrer"


# Who may refer to a service (the directory's « personnes-mobilisatrices »). A referral through
# Relais is always made by a professional (a structure's staff or its API client).
REFERRER_KIND = "professionnels"


def open_to_professionals(referable_by: list[str]) -> bool:
    """A service saying nothing about who may refer is open to all; one listing kinds of
    referrers must list professionals for Relais to send it a referral."""
    return not referable_by or REFERRER_KIND in referable_by
