"""French phone numbers: long numbers in E.164, national short numbers as digits, and the kind
each stored number is."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.directory import models as m
from services.directory.domain import validation
from services.directory.domain.phones import PhoneKind, phone_kind
from services.directory.interop import hsds
from services.directory.interop.datainclusion import fields as di_fields
from services.directory.interop.datainclusion import parse as di_parse
from tests.conftest import Relais
from tests.directory.helpers import BASE, create_structure, moderator
from tests.directory.test_import import _scalar, service_row, structure_row, unique_source


@pytest.mark.parametrize(
    ("typed", "stored", "kind"),
    [
        ("3230", "3230", PhoneKind.SHORT),  # CAF
        ("36 46", "3646", PhoneKind.SHORT),  # Assurance Maladie
        ("39 19", "3919", PhoneKind.SHORT),  # violences femmes info
        ("3939", "3939", PhoneKind.SHORT),  # Allô Service Public
        ("115", "115", PhoneKind.SHORT),  # Samu social
        ("116 000", "116000", PhoneKind.SHORT),
        ("112", "112", PhoneKind.EMERGENCY),
        ("0 800 12 34 56", "+33800123456", PhoneKind.TOLL_FREE),
        ("0810 12 34 56", "+33810123456", PhoneKind.SHARED_COST),
        ("08 99 12 34 56", "+33899123456", PhoneKind.PREMIUM_RATE),
        ("02 99 12 34 56", "+33299123456", PhoneKind.GEOGRAPHIC),
        ("06 12 34 56 78", "+33612345678", PhoneKind.MOBILE),
        ("09 70 12 34 56", "+33970123456", PhoneKind.VOIP),
        ("0262 21 00 00", "+262262210000", PhoneKind.GEOGRAPHIC),
    ],
)
def test_numbers_are_stored_and_say_their_kind(typed: str, stored: str, kind: PhoneKind) -> None:
    assert validation.normalize_phone(typed) == stored
    assert phone_kind(stored) is kind


@pytest.mark.parametrize("typed", ["12", "30", "0143", "3 2 3 0 0 0 0", "+1 202 555 0143"])
def test_what_is_neither_a_long_nor_a_short_french_number_is_refused(typed: str) -> None:
    with pytest.raises(validation.Invalid, match="numéro court"):
        validation.normalize_phone(typed)


def test_no_number_has_no_kind() -> None:
    assert phone_kind(None) is None
    assert phone_kind("") is None


def test_a_caf_row_with_its_short_number_maps() -> None:
    structure = di_parse.parse_structure(structure_row("caf", telephone="3230"), 1)
    assert isinstance(structure, di_fields.StructureRecord)
    assert structure.values["phone"] == "3230"
    service = di_parse.parse_service(service_row("cpam", telephone="36 46"), 1)
    assert isinstance(service, di_fields.ServiceRecord)
    assert service.values["contact_phone"] == "3646"
    assert service.values["referral_phone"] == "3646"


def test_hsds_phones_say_what_a_special_number_is() -> None:
    [short] = hsds._phone("organization", "o1", "3230")
    assert short["type"] == "voice"
    assert "court" in short["description"]
    [mobile] = hsds._phone("organization", "o1", "+33612345678")
    assert mobile["type"] == "cell"
    assert "description" not in mobile


async def test_caf_and_cpam_rows_with_short_numbers_import_and_say_their_kind(
    relais: Relais,
) -> None:
    source = unique_source()
    body = {
        "structures": [structure_row(source, "caf", nom="CAF de la Drôme", telephone="3230")],
        "services": [service_row(source, "cpam", structure="caf", telephone="36 46")],
    }
    response = await relais.client.post(
        f"{BASE}/imports", json=body, headers=moderator(relais.tokens)
    )
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == 0, response.json()["errors"]

    structure_id = await _scalar(
        relais, sa.select(m.Structure.id).where(m.Structure.source == source)
    )
    structure = (await relais.client.get(f"{BASE}/structures/{structure_id}")).json()
    assert (structure["phone"], structure["phone_kind"]) == ("3230", "short")
    services = await relais.client.get(f"{BASE}/services", params={"structure_id": structure["id"]})
    [service] = services.json()["items"]
    assert (service["referral_phone"], service["referral_phone_kind"]) == ("3646", "short")


async def test_a_structure_phone_written_through_the_api_says_its_kind(relais: Relais) -> None:
    created = await create_structure(relais.client, relais.tokens, phone="0 800 12 34 56")
    assert (created["phone"], created["phone_kind"]) == ("+33800123456", "toll_free")
