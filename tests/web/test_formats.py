"""Dates, distances and opening hours said in French words (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.web.formats import day_fr, distance_fr, hours_fr, moment_fr, phone_fr


def test_dates_and_moments_in_france() -> None:
    assert day_fr(date(2026, 12, 3)) == "3 décembre 2026"
    assert day_fr(date(2026, 1, 1)) == "1er janvier 2026"
    # 23:30 UTC on 31 December is already New Year's Day in Paris.
    assert day_fr(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)) == "1er janvier 2026"
    assert moment_fr(datetime(2026, 7, 14, 7, 5, tzinfo=UTC)) == "14 juillet 2026 à 9 h 05"
    assert day_fr(None) == ""


def test_distances() -> None:
    assert distance_fr(0.234) == "à 230 m"
    assert distance_fr(3.46) == "à 3,5 km"
    assert distance_fr(27.4) == "à 27 km"
    assert distance_fr(4.66, approximate=True) == "à environ 4,7 km"


@pytest.mark.parametrize(
    ("hours", "said"),
    [
        ("Mo-Fr 09:00-12:00", ["Du lundi au vendredi, de 9 h à 12 h"]),
        (
            "Mo-Fr 09:00-12:00,14:00-17:30; Sa 09:00-12:00",
            [
                "Du lundi au vendredi, de 9 h à 12 h et de 14 h à 17 h 30",
                "Le samedi, de 9 h à 12 h",
            ],
        ),
        ("Tu,Th 14:00-17:00", ["Le mardi et le jeudi, de 14 h à 17 h"]),
        ("Sa-Su 10:00-12:00", ["Le samedi et le dimanche, de 10 h à 12 h"]),
        ("We[1,3] 14:00-16:00", ["Le 1er et le 3e mercredi du mois, de 14 h à 16 h"]),
        ("24/7", ["Tous les jours, 24 h sur 24"]),
        (
            "Mo-Fr 09:00-17:00; PH off",
            ["Du lundi au vendredi, de 9 h à 17 h", "Fermé les jours fériés"],
        ),
        # A later rule replaces the days it names: Monday and Wednesday are afternoons only.
        (
            "Mo-Fr 08:30-12:00; Mo,We 13:30-17:30",
            [
                "Le lundi et le mercredi, de 13 h 30 à 17 h 30",
                "Le mardi, le jeudi et le vendredi, de 8 h 30 à 12 h",
            ],
        ),
        # Night shelters: the span goes past midnight.
        ("Mo-Su 18:00-09:00", ["Tous les jours, de 18 h à 9 h le lendemain"]),
        ("Fr 22:00-26:30", ["Le vendredi, de 22 h à 2 h 30 le lendemain"]),
        ("Sa 20:00-24:00", ["Le samedi, de 20 h à minuit"]),
        # Anything else is shown as written, never guessed.
        ("sunrise-sunset", ["horaires : sunrise-sunset"]),
        ("Mo 25:00-26:00", ["horaires : Mo 25:00-26:00"]),
        ("", []),
    ],
)
def test_opening_hours_in_words(hours: str, said: list[str]) -> None:
    assert hours_fr(hours) == said


def test_phone_numbers_as_people_write_them() -> None:
    assert phone_fr("+33465714339") == "04 65 71 43 39"
    assert phone_fr("04.75.12.34.56") == "04 75 12 34 56"
    assert phone_fr("+41 22 123 45 67") == "+41 22 123 45 67"  # abroad: as given
    assert phone_fr(None) == ""
