"""Directory domain rules: validation, freshness and moderation (pure functions, no fixtures)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.directory.domain import freshness, moderation, validation
from services.directory.domain.moderation import Action, Actor, ModerationError

VALID_SIRET = "73282932000074"


def fields(errors: list[validation.FieldError]) -> set[str]:
    return {e.field for e in errors}


def test_valid_structure_is_normalised() -> None:
    data, errors = validation.check_structure(
        {
            "name": "  CCAS de Rennes ",
            "siret": "732 829 320 00074",
            "phone": "02 99 00 00 00",
            "email": "Accueil@Example.org",
            "website": "https://ccas.example.org/",
            "opening_hours": "Mo-Fr 09:00-12:00,14:00-17:00; PH off",
            "postal_code": "35000",
            "commune_code": "35238",
            "latitude": 48.11,
            "longitude": -1.68,
            "typology": "CCAS",
            "networks": ["ccas-cias", "ccas-cias"],
        }
    )
    assert errors == []
    assert data["name"] == "CCAS de Rennes"
    assert data["siret"] == VALID_SIRET
    assert data["phone"] == "+33299000000"
    assert data["email"] == "Accueil@example.org"
    assert data["commune"] == "Rennes"  # filled from the reference
    assert data["networks"] == ["ccas-cias"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("siret", "73282932000075"),  # Luhn key wrong
        ("siret", "1234"),
        ("phone", "12"),
        ("phone", "+1 202 555 0143x"),
        ("email", "not-an-email"),
        ("website", "ftp://example.org"),
        ("website", "https://exa mple.org"),
        ("website", "https://"),
        ("opening_hours", "Mo-Fr 25:00-26:00"),
        ("opening_hours", "tous les jours"),
        ("commune_code", "99999"),
        ("commune_code", "ABCDE"),
        ("postal_code", "00000"),
        ("postal_code", "3500"),
        ("typology", "PAS-UNE-TYPOLOGIE"),
        ("networks", ["caf", "reseau-imaginaire"]),
    ],
)
def test_bad_structure_field_is_named(field: str, value: object) -> None:
    errors = validation.validate_structure({"name": "X", field: value})
    assert field in fields(errors), errors
    assert all(e.reason for e in errors)


def test_overseas_phone_numbers_are_accepted() -> None:
    assert validation.normalize_phone("0262 21 00 00") == "+262262210000"
    assert validation.normalize_phone("+33 1 23 45 67 89") == "+33123456789"


def test_postal_code_must_belong_to_commune() -> None:
    errors = validation.validate_structure(
        {"name": "X", "postal_code": "75001", "commune_code": "35238"}
    )
    assert fields(errors) == {"postal_code"}
    assert "Rennes" in errors[0].reason
    # An arrondissement's postal code belongs to its city.
    assert (
        validation.validate_structure(
            {"name": "X", "postal_code": "75001", "commune_code": "75056"}
        )
        == []
    )


@pytest.mark.parametrize(
    ("latitude", "longitude", "bad"),
    [(91.0, 2.0, "latitude"), (45.0, -181.0, "longitude"), (45.0, None, "longitude")],
)
def test_coordinates_in_range_and_paired(
    latitude: float, longitude: float | None, bad: str
) -> None:
    errors = validation.validate_place({"name": "X", "latitude": latitude, "longitude": longitude})
    assert bad in fields(errors)


def test_service_taxonomies_zones_and_sessions() -> None:
    errors = validation.validate_service(
        {
            "name": "Aide alimentaire",
            "type": "aide-materielle",
            "thematiques": ["equipement-et-alimentation--alimentation", "alimentation"],
            "publics": ["tous-publics", "martiens"],
            "fees": "gratuit",
            "reception_modes": ["en-presentiel"],
            "referral_modes": ["utiliser-lien-mobilisation"],
            "referable_by": ["professionnels"],
            "eligibility_zones": ["commune:35238", "epci:243500139", "departement:99x", "france"],
            "sessions": [{"place_id": "x", "opening_hours": "Tu 25:00"}],
        }
    )
    by_field = {e.field: e for e in errors}
    assert set(by_field) == {
        "thematiques",
        "publics",
        "eligibility_zones[2]",
        "sessions[0].opening_hours",
        "referral_url",
    }
    assert by_field["thematiques"].value == "alimentation"
    assert "alimentation" in by_field["thematiques"].reason
    assert by_field["publics"].value == "martiens"


def test_patch_checks_only_changed_fields_and_their_cross_rules() -> None:
    current = {"name": "X", "siret": "bad-legacy", "postal_code": "35000", "commune_code": "35238"}
    # Only the phone changes: the legacy SIRET is not reported.
    _, errors = validation.check_structure({**current, "phone": "0299000000"}, {"phone"})
    assert errors == []
    # Changing the commune re-checks the postal code against it.
    _, errors = validation.check_structure({**current, "commune_code": "75056"}, {"commune_code"})
    assert fields(errors) == {"postal_code"}


def test_freshness() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old = now - timedelta(days=200)
    assert freshness.is_stale(old, now=now, period_days=182)
    assert freshness.is_stale(None, now=now, period_days=182)
    assert not freshness.is_stale(now - timedelta(days=10), now=now, period_days=182)


def test_moderation_table() -> None:
    t = moderation.transition
    assert t("draft", Action.PUBLISH, Actor.OWNER) == "published"
    assert t("published", Action.SUSPEND, Actor.MODERATOR) == "suspended"
    assert t("suspended", Action.PUBLISH, Actor.MODERATOR) == "published"
    assert t("published", Action.ARCHIVE, Actor.OWNER) == "archived"
    assert t("published", Action.EDIT, Actor.OWNER) == "published"
    # Owners take their own entry off the directory (back to draft) and put it back.
    assert t("published", Action.UNPUBLISH, Actor.OWNER) == "draft"
    assert t("draft", Action.PUBLISH, Actor.OWNER) == "published"
    with pytest.raises(ModerationError) as not_theirs:
        t("published", Action.UNPUBLISH, Actor.OTHER)
    assert not_theirs.value.status == 403
    with pytest.raises(ModerationError) as still_suspended:
        t("suspended", Action.UNPUBLISH, Actor.OWNER)
    assert still_suspended.value.status == 409
    with pytest.raises(ModerationError) as refused:
        t("published", Action.SUSPEND, Actor.OWNER)
    assert refused.value.status == 403
    with pytest.raises(ModerationError) as suspended:
        t("suspended", Action.PUBLISH, Actor.OWNER)
    assert suspended.value.status == 409
    with pytest.raises(ModerationError) as archived:
        t("archived", Action.EDIT, Actor.MODERATOR)
    assert archived.value.status == 409
    with pytest.raises(ModerationError):
        t("draft", Action.EDIT, Actor.OTHER)
    assert moderation.initial_status("published", Actor.OWNER) == "published"
    with pytest.raises(ModerationError):
        moderation.initial_status("draft", Actor.OTHER)
