"""Opening hours as a week (services/web/hours.py) and the per-day form's checks
(features/ma_structure/hours_form.py), without I/O: examples, and a hypothesis property — any
way of writing a week the rows can show reads back as that week, is written back in one
canonical text, and means the same to the OSM parser the directory validates with."""

from __future__ import annotations

from datetime import datetime

import opening_hours
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.web.features.ma_structure.hours_form import checked, editor_of, typed_editor
from services.web.hours import DAYS, Week, canonical, parse, read, serialise


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("Mo-Fr 09:00-12:00,14:00-17:00", "Mo-Fr 09:00-12:00,14:00-17:00"),
        ("Mo-Fr 09:00-12:00; Sa 09:00-12:00", "Mo-Sa 09:00-12:00"),
        ("Mo 09:00-12:00;We 09:00-12:00; Fr 09:00-12:00", "Mo,We,Fr 09:00-12:00"),
        ("Sa,Su 10:00-12:00", "Sa,Su 10:00-12:00"),
        ("Sa-Mo 10:00-12:00", "Mo,Sa,Su 10:00-12:00"),  # round the week end, as OSM reads it
        ("Mo-Fr 14:00-17:00,9:00-12:00; PH off", "Mo-Fr 09:00-12:00,14:00-17:00; PH off"),
        ("Mo-Fr 09:00-17:00; We off", "Mo,Tu,Th,Fr 09:00-17:00"),
        (
            "Mo-Th 09:00-12:00,14:00-17:00; Fr 09:00-12:00; PH off",
            "Mo-Th 09:00-12:00,14:00-17:00; Fr 09:00-12:00; PH off",
        ),
        ("", None),
        ("We off", None),
    ],
)
def test_canonical_examples(value: str, written: str | None) -> None:
    assert canonical(value) == written
    if written:
        assert canonical(written) == written


@pytest.mark.parametrize(
    "value",
    [
        "24/7",
        "Mo-Su 18:00-09:00",  # past midnight
        "Mo-Fr 09:00-24:00",
        "We[1,3] 09:00-12:00; PH off",
        "PH 10:00-12:00",
        "PH off; Mo-Fr 09:00-12:00",  # the later rule would open public holidays again
        "Mo-Fr 08:00-10:00,11:00-12:00,14:00-16:00",  # three ranges
        "Mo-Fr 09:00-13:00,12:00-17:00",  # overlapping
        "Jan-Mar Mo-Fr 09:00-12:00",
        "week 1-26 Mo 09:00-12:00",
        'Mo-Fr 09:00-12:00 "sauf vacances scolaires"',
        "Mo-Fr 09:00-12:00 || Sa 10:00-12:00",
        "Mo-Fr 08:30-12:00, Mo,We 13:30-17:30",  # an additional rule
        "We, Fr 09:00-12:00",  # two rules to OSM: Wednesday open all day
        "Mo-Fr",
        "lundi 9h-12h",
    ],
)
def test_what_the_rows_cannot_show_is_kept_as_written(value: str) -> None:
    assert parse(value) is None
    assert canonical(value) == value
    assert editor_of(value).mode == "texte"


def test_a_later_rule_replaces_the_days_it_names() -> None:
    reading = read("Mo-Fr 08:30-12:00; Mo,We 13:30-17:30; PH off")
    assert reading is not None
    assert reading.replaced
    assert reading.week.days[0] == (("13:30", "17:30"),)
    assert reading.week.days[1] == (("08:30", "12:00"),)
    assert reading.week.holidays_closed
    assert not read("Mo-Fr 09:00-12:00; Sa 10:00-12:00").replaced  # type: ignore[union-attr]


def test_a_single_afternoon_range_goes_to_the_afternoon_row() -> None:
    rows = editor_of("Tu 14:00-17:00; Th 09:00-12:00").rows
    assert rows[1].ranges == (("", ""), ("14:00", "17:00"))
    assert rows[3].ranges == (("09:00", "12:00"), ("", ""))
    assert rows[0].closed
    assert not rows[1].closed


# --- the property ------------------------------------------------------------------------------

MINUTES = st.integers(min_value=0, max_value=23 * 60 + 59)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def day_hours(draw: st.DrawFn) -> tuple[tuple[str, str], ...]:
    count = draw(st.integers(min_value=0, max_value=2))
    points = sorted(draw(st.sets(MINUTES, min_size=2 * count, max_size=2 * count)))
    # Touching ranges (12:00-12:00) are allowed: sometimes join two points.
    if count == 2 and draw(st.booleans()):
        points[2] = points[1]
    return tuple((_hhmm(points[2 * i]), _hhmm(points[2 * i + 1])) for i in range(count))


weeks = st.builds(
    lambda days, holidays: Week(tuple(days), holidays),
    st.lists(
        st.one_of(day_hours(), st.sampled_from([(("09:00", "12:00"),), ()])),
        min_size=7,
        max_size=7,
    ),
    st.booleans(),
)


def _days_text(draw: st.DrawFn, days: list[int]) -> str:
    """Those days as an OSM selector, written one of several ways."""
    days = sorted(days)
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1 and draw(st.booleans()):
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [DAYS[r[0]] if len(r) == 1 else f"{DAYS[r[0]]}-{DAYS[r[-1]]}" for r in runs]
    parts = draw(st.permutations(parts))
    return ",".join(parts)


def _short(hhmm: str) -> str:
    """« 9:00 » for « 09:00 » (OSM accepts one digit)."""
    return hhmm[1:] if hhmm[0] == "0" and hhmm[1] != "0" else hhmm


def _hours_text(draw: st.DrawFn, hours: tuple[tuple[str, str], ...]) -> str:
    if not hours:
        return draw(st.sampled_from(["off", "closed"]))
    spans = [f"{_short(a) if draw(st.booleans()) else a}-{b}" for a, b in hours]
    return draw(st.sampled_from([",", ", "])).join(draw(st.permutations(spans)))


@st.composite
def writings(draw: st.DrawFn) -> tuple[Week, str]:
    """A week and one of the many texts that say it (rules split, reordered, overridden)."""
    wanted = draw(weeks)
    rules: list[str] = []
    # Rules a later one replaces: OSM reads the last rule naming a day.
    overridden = draw(st.lists(st.integers(0, 6), unique=True, max_size=7))
    if overridden:
        rules.append(f"{_days_text(draw, overridden)} {_hours_text(draw, draw(day_hours()))}")
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for day, hours in enumerate(wanted.days):
        if hours or day in overridden:
            groups.setdefault(hours, []).append(day)
    later: list[str] = []
    for hours, days in groups.items():
        # Split a group of days in several rules, sometimes.
        cut = draw(st.integers(min_value=1, max_value=len(days)))
        for part in (days[:cut], days[cut:]):
            if part:
                later.append(f"{_days_text(draw, part)} {_hours_text(draw, hours)}")
    rules += draw(st.permutations(later))
    if wanted.holidays_closed:
        rules.append(draw(st.sampled_from(["PH off", "PH closed"])))
    separator = draw(st.sampled_from(["; ", ";", " ; "]))
    return wanted, separator.join(rules)


def _intervals(value: str) -> list[tuple[datetime, datetime | None, str]]:
    """What the OSM parser says over a week without public holidays."""
    found = opening_hours.OpeningHours(value).intervals(
        datetime(2026, 12, 7), datetime(2026, 12, 14)
    )
    return [(i[0], i[1], str(i[2])) for i in found]


@settings(max_examples=300, deadline=None)
@given(writings())
def test_any_writing_reads_back_as_its_week_and_one_canonical_text(case: tuple[Week, str]) -> None:
    wanted, text = case
    assert parse(text) == wanted
    written = serialise(wanted)
    assert serialise(parse(text)) == canonical(text) == written  # type: ignore[arg-type]
    if written is None:
        assert wanted.closed
        return
    assert parse(written) == wanted  # the canonical text reads back as the same week
    assert canonical(written) == written
    # The OSM parser (the directory's validation) accepts both and reads the same hours.
    assert _intervals(written) == _intervals(text)


# --- the form's checks --------------------------------------------------------------------------


def test_the_rows_become_the_canonical_text() -> None:
    rows = {f"hours-{d}-1-start": ["09:00"] for d in ("mo", "tu", "we", "th", "fr")}
    rows |= {f"hours-{d}-1-end": ["12:00"] for d in ("mo", "tu", "we", "th", "fr")}
    rows |= {"hours-mo-2-start": ["14:00"], "hours-mo-2-end": ["17h"], "hours-sa-2-start": ["9h30"]}
    rows |= {"hours-sa-2-end": ["11:30"], "hours_holidays": ["oui"], "hours_mode": ["jours"]}
    value, errors = checked(rows, "opening_hours")
    assert errors == {}
    assert value == "Mo 09:00-12:00,14:00-17:00; Tu-Fr 09:00-12:00; Sa 09:30-11:30; PH off"


def test_the_value_as_loaded_is_kept_when_the_rows_say_the_same() -> None:
    loaded = "Mo-Fr 09:00-12:00; Sa 09:00-12:00"
    rows: dict[str, list[str]] = {"hours_mode": ["jours"], "hours_loaded": [loaded]}
    for d in ("mo", "tu", "we", "th", "fr", "sa"):
        rows |= {f"hours-{d}-1-start": ["09:00"], f"hours-{d}-1-end": ["12:00"]}
    assert checked(rows, "opening_hours") == (loaded, {})
    rows["hours-sa-1-end"] = ["12:30"]
    assert checked(rows, "opening_hours")[0] == "Mo-Fr 09:00-12:00; Sa 09:00-12:30"
    # Every row empty: no hours at all.
    assert checked({"hours_mode": ["jours"], "hours_holidays": ["oui"]}, "opening_hours") == (
        None,
        {},
    )


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        ({"hours-mo-1-start": "09:00"}, "hours-mo-1-end", "indiquez l’heure de fin (matin)"),
        ({"hours-tu-2-end": "17:00"}, "hours-tu-2-start", "indiquez l’heure de début (après-midi)"),
        (
            {"hours-we-1-start": "12:00", "hours-we-1-end": "09:00"},
            "hours-we-1-end",
            "la fin doit être après le début (matin)",
        ),
        (
            {"hours-th-1-start": "09:00", "hours-th-1-end": "14:00"}
            | {"hours-th-2-start": "13:00", "hours-th-2-end": "17:00"},
            "hours-th-2-start",
            "le matin et l’après-midi se chevauchent",
        ),
        (
            {"hours-fr-1-start": "25:00", "hours-fr-1-end": "12:00"},
            "hours-fr-1-start",
            "heure de début non reconnue (matin), ex. 09:00",
        ),
    ],
)
def test_mistakes_are_said_next_to_their_input(
    fields: dict[str, str], key: str, message: str
) -> None:
    value, errors = checked({k: [v] for k, v in fields.items()}, "opening_hours")
    assert value is None
    assert errors == {key: message}
    shown = typed_editor({k: [v] for k, v in fields.items()}, "opening_hours")
    assert shown.mode == "jours"  # what was typed comes back in the rows


def test_the_text_is_sent_as_typed_in_text_mode() -> None:
    sent = {"hours_mode": ["texte"], "opening_hours": [" PH 10:00-12:00 "]}
    assert checked(sent, "opening_hours") == ("PH 10:00-12:00", {})
    assert typed_editor(sent, "opening_hours").text == "PH 10:00-12:00"
