"""Checks of a new referral that the msgspec types cannot express (422 naming each field)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from services.kernel.problems import FieldError, ProblemError
from services.kernel.reference import taxonomy
from services.referrals.domain.vocabulary import ContactMethod
from services.referrals.schemas import PersonIn, ReferralCreate

CLOCK_SKEW = timedelta(minutes=5)
# A consent is recorded when the referral is made: one given more than a year before is not the
# person's present agreement (and a date in year 1 is a typing error); an expiry more than ten
# years ahead is one too.
CONSENT_MAX_AGE = timedelta(days=366)
CONSENT_MAX_TERM = timedelta(days=3653)


def _fail(errors: list[FieldError]) -> ProblemError:
    detail = "; ".join(f"{e.field} : {e.reason}" for e in errors)
    return ProblemError(422, detail, errors=errors)


def _person(person: PersonIn, now: datetime, errors: list[FieldError]) -> PersonIn:
    if not (person.first_name or person.last_name or person.pseudonym):
        errors.append(FieldError("person", "un nom, un prénom ou un pseudonyme est requis"))
    if person.birth_date is not None:
        if person.birth_date > now.date():
            errors.append(FieldError("person.birth_date", "date de naissance dans le futur"))
        if person.birth_year is not None and person.birth_year != person.birth_date.year:
            errors.append(
                FieldError("person.birth_year", "ne correspond pas à la date de naissance")
            )
    if person.birth_year is not None and person.birth_year > now.year:
        errors.append(FieldError("person.birth_year", "année de naissance dans le futur"))
    phone = person.phone
    if phone is not None:
        try:
            parsed = phonenumbers.parse(phone, "FR")
            if not phonenumbers.is_possible_number(parsed):
                raise phonenumbers.NumberParseException(1, "impossible")
            phone = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            errors.append(FieldError("person.phone", "numéro de téléphone invalide"))
    email = person.email
    if email is not None:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            errors.append(FieldError("person.email", "adresse électronique invalide"))
    required = {
        ContactMethod.PHONE: ("phone", person.phone),
        ContactMethod.EMAIL: ("email", person.email),
        ContactMethod.POSTAL: ("postal_address", person.postal_address),
    }
    if person.contact_method in required:
        name, value = required[person.contact_method]
        if value is None:
            errors.append(FieldError(f"person.{name}", "requis pour ce moyen de contact"))
    return msgspec.structs.replace(person, phone=phone, email=email)


def check_thematiques(values: list[str], field: str) -> list[FieldError]:
    unknown = taxonomy("thematiques").unknown(values)
    return [FieldError(field, f"thématique inconnue : {value}", value=value) for value in unknown]


def check_create(body: ReferralCreate, now: datetime, age_bands: Sequence[str]) -> ReferralCreate:
    errors: list[FieldError] = []
    if body.need.age_band not in age_bands:
        errors.append(
            FieldError(
                "need.age_band",
                f"tranche d'âge inconnue (attendu : {', '.join(age_bands)})",
                value=body.need.age_band,
            )
        )
    person = _person(body.person, now, errors)
    errors += check_thematiques(body.need.thematiques, "need.thematiques")
    consent = body.consent
    if consent.given_at is not None:
        if consent.given_at.tzinfo is None:
            errors.append(FieldError("consent.given_at", "fuseau horaire requis (RFC 3339)"))
        elif consent.given_at > now + CLOCK_SKEW:
            errors.append(FieldError("consent.given_at", "date dans le futur"))
        elif consent.given_at < now - CONSENT_MAX_AGE:
            errors.append(
                FieldError(
                    "consent.given_at",
                    "consentement trop ancien (un an au plus) : à recueillir à nouveau",
                )
            )
    if consent.expires_at is not None:
        if consent.expires_at.tzinfo is None:
            errors.append(FieldError("consent.expires_at", "fuseau horaire requis (RFC 3339)"))
        elif consent.expires_at <= now:
            errors.append(FieldError("consent.expires_at", "le consentement est déjà expiré"))
        elif consent.expires_at > now + CONSENT_MAX_TERM:
            errors.append(
                FieldError("consent.expires_at", "échéance trop lointaine (10 ans au plus)")
            )
    if errors:
        raise _fail(errors)
    return msgspec.structs.replace(body, person=person)
