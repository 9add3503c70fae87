"""French phone numbers: normalisation and kind (pure, no I/O).

An entry's phone may be an ordinary number (stored in E.164: ``+33299123456``, overseas
départements with their own country codes), a special number of the 08 range (« numéro vert »
0 800, shared cost, premium rate: also E.164), or a national short number (3230 for the CAF,
3646 for the Assurance Maladie, 3919, 115…), stored as its digits: a short number cannot be
dialled from abroad, so it has no E.164 form. ``phone_kind`` says which kind a stored number is,
from phonenumbers' metadata (short-number metadata for the short ones).
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache, lru_cache

import phonenumbers
from phonenumbers import shortnumberinfo

# Overseas départements and collectivities dial with their own country codes: a number typed in
# national format ("0262 …") is tried against them after metropolitan France.
PHONE_REGIONS = ("FR", "RE", "GP", "MQ", "GF", "YT", "PM", "BL", "MF", "WF", "PF", "NC")
INVALID_PHONE = (
    "numéro de téléphone invalide (format français attendu, ex. 01 23 45 67 89, "
    "ou numéro court comme 3230)"
)


class PhoneKind(StrEnum):
    """What a number is, as staff need to know it before they call or give it to a person."""

    GEOGRAPHIC = "geographic"  # 01–05 (and overseas fixed lines)
    MOBILE = "mobile"  # 06, 07
    VOIP = "voip"  # 09, non-geographic
    TOLL_FREE = "toll_free"  # 0 800–0 805, « numéro vert »
    SHARED_COST = "shared_cost"  # 081, 082: a service charge on top of the call
    PREMIUM_RATE = "premium_rate"  # 089
    SHORT = "short"  # national short number: 3230, 3646, 3919, 115, 116 000…
    EMERGENCY = "emergency"  # 15, 17, 18, 112, 114…
    OTHER = "other"


_LONG_KINDS = {
    phonenumbers.PhoneNumberType.FIXED_LINE: PhoneKind.GEOGRAPHIC,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: PhoneKind.GEOGRAPHIC,
    phonenumbers.PhoneNumberType.MOBILE: PhoneKind.MOBILE,
    phonenumbers.PhoneNumberType.VOIP: PhoneKind.VOIP,
    phonenumbers.PhoneNumberType.TOLL_FREE: PhoneKind.TOLL_FREE,
    phonenumbers.PhoneNumberType.SHARED_COST: PhoneKind.SHARED_COST,
    phonenumbers.PhoneNumberType.PREMIUM_RATE: PhoneKind.PREMIUM_RATE,
}


class InvalidPhone(ValueError):
    """Not a French phone number, long or short."""


# "02 99 12 34 56", "02.99.12.34.56", "0299123456": the national format almost every French
# number is written in. phonenumbers.parse reads it as country code 33 and the nine digits after
# the trunk 0 (when France's parsing metadata is the plain one checked below); building that
# number directly skips parse, the costliest step of an import row.
_FR_NATIONAL = re.compile(r"0[1-9](?:([ .-]?)\d\d)(?:\1\d\d){3}")
_FR_SEPARATORS = str.maketrans("", "", " .-")
# A short number as written: 3 to 6 digits, possibly grouped ("36 46", "116 000").
_SHORT = re.compile(r"\d(?:[ .-]?\d){2,5}")


@cache
def _plain_french_parsing() -> bool:
    meta = phonenumbers.PhoneMetadata.metadata_for_region("FR")
    return (
        meta is not None
        and meta.country_code == 33
        and meta.international_prefix == "00"
        and meta.national_prefix_for_parsing == "0"
        and meta.national_prefix_transform_rule is None
        and meta.general_desc is not None
        and meta.general_desc.national_number_pattern == r"[1-9]\d{8}"
    )


def _french_national(value: str) -> str | None:
    """E.164 of a valid metropolitan number in national format, else None (use the general
    path: it may still be an overseas number or another layout)."""
    if _FR_NATIONAL.fullmatch(value) is None or not _plain_french_parsing():
        return None
    number = phonenumbers.PhoneNumber(
        country_code=33, national_number=int(value.translate(_FR_SEPARATORS)[1:])
    )
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _long_number(value: str) -> str | None:
    """E.164 of a valid French (metropolitan or overseas) number, else None."""
    return _french_national(value) or _any_region(value)


def _any_region(value: str) -> str | None:
    """The general path of ``_long_number``: phonenumbers.parse for each French region."""
    for region in PHONE_REGIONS:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if (
            phonenumbers.is_valid_number(number)
            and phonenumbers.region_code_for_number(number) in PHONE_REGIONS
        ):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _short_number(value: str) -> str | None:
    """The digits of a valid French short number ("36 46" → "3646"), else None."""
    if _SHORT.fullmatch(value) is None:
        return None
    digits = value.translate(_FR_SEPARATORS)
    number = phonenumbers.parse(digits, "FR")
    return digits if shortnumberinfo.is_valid_short_number_for_region(number, "FR") else None


def normalize_phone(value: str) -> str:
    """A French number in its stored form: E.164 for a long number, digits for a short one.
    Raises ``InvalidPhone``."""
    value = value.strip()
    found = _long_number(value) or _short_number(value)
    if found is None:
        raise InvalidPhone(INVALID_PHONE)
    return found


@lru_cache(maxsize=4096)
def phone_kind(stored: str | None) -> PhoneKind | None:
    """The kind of a stored number (``normalize_phone``'s output); None for no number."""
    if not stored:
        return None
    if not stored.startswith("+"):
        if shortnumberinfo.is_emergency_number(stored, "FR"):
            return PhoneKind.EMERGENCY
        return PhoneKind.SHORT
    try:
        number = phonenumbers.parse(stored, None)
    except phonenumbers.NumberParseException:
        return PhoneKind.OTHER
    return _LONG_KINDS.get(phonenumbers.number_type(number), PhoneKind.OTHER)
