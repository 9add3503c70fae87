"""The opening hours field of the edit forms: a row per day (matin, après-midi), « fermé les
jours fériés », checked here in French before the API sees the text.

Values the rows cannot show (see ``services.web.hours``) are kept: the page says so, shows
them in words and offers their text to edit, or to start again with the rows (``?horaires=
tableau``). Field names: ``hours_mode`` (``jours`` or ``texte``), ``hours_loaded`` (the value as
loaded, sent back unchanged when the rows say the same), ``hours-mo-1-start`` … ``hours-su-2-end``,
``hours_holidays`` and, for the text, the field's own name (``opening_hours``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.web.deps import Form
from services.web.formats import hours_fr
from services.web.hours import DAY_NAMES, DAYS, MAX_RANGES, Range, Week, read, serialise

PARTS = ("matin", "après-midi")
_TYPED = re.compile(r"^(\d{1,2})\s*[:hH]\s*(\d{2})?$")


@dataclass(frozen=True)
class DayRow:
    code: str  # « mo »
    name: str  # « Lundi »
    ranges: tuple[Range, ...]  # as typed: MAX_RANGES pairs of text, maybe empty

    def key(self, part: int, end: str) -> str:
        """The input's name: ``hours-mo-1-start``."""
        return f"hours-{self.code}-{part}-{end}"

    @property
    def closed(self) -> bool:
        return not any(a or b for a, b in self.ranges)


@dataclass(frozen=True)
class HoursEditor:
    mode: str  # jours | texte
    rows: tuple[DayRow, ...]
    holidays_closed: bool = False
    text: str = ""  # the value as written (mode texte), else the value as loaded
    loaded: str = ""
    said: list[str] = field(default_factory=list)  # the loaded value in words
    replaced: bool = False
    replacing: bool = False  # rows chosen over a value they could not show


def _rows(week: Week | None) -> tuple[DayRow, ...]:
    rows = []
    for index, code in enumerate(DAYS):
        hours = list(week.days[index]) if week else []
        # One range from noon on is an afternoon.
        if len(hours) == 1 and hours[0][0] >= "12:00":
            hours.insert(0, ("", ""))
        hours += [("", "")] * (MAX_RANGES - len(hours))
        rows.append(DayRow(code.lower(), DAY_NAMES[index], tuple(hours)))
    return tuple(rows)


def editor_of(value: str | None, *, rows: bool = False) -> HoursEditor:
    """The field for a stored value; ``rows``: the rows even if they cannot show it."""
    text = value or ""
    reading = read(text)
    said = hours_fr(text)
    if reading is None and not rows:
        return HoursEditor("texte", _rows(None), text=text, loaded=text, said=said)
    return HoursEditor(
        "jours",
        _rows(reading.week if reading else None),
        holidays_closed=reading.week.holidays_closed if reading else bool(not text),
        text=text,
        loaded=text,
        said=said,
        replaced=bool(reading and reading.replaced),
        replacing=reading is None,
    )


def _first(form: Form, name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def typed_editor(form: Form, name: str) -> HoursEditor:
    """The field as the person filled it in (shown again after an error)."""
    loaded = _first(form, "hours_loaded")
    if _first(form, "hours_mode") == "texte":
        text = _first(form, name)
        return HoursEditor("texte", _rows(None), text=text, loaded=loaded, said=hours_fr(loaded))
    rows = []
    for index, code in enumerate(DAYS):
        row = DayRow(code.lower(), DAY_NAMES[index], ())
        typed = tuple(
            (_first(form, row.key(part, "start")), _first(form, row.key(part, "end")))
            for part in range(1, MAX_RANGES + 1)
        )
        rows.append(DayRow(row.code, row.name, typed))
    reading = read(loaded)
    return HoursEditor(
        "jours",
        tuple(rows),
        holidays_closed=_first(form, "hours_holidays") == "oui",
        text=loaded,
        loaded=loaded,
        said=hours_fr(loaded),
        replacing=bool(loaded) and reading is None,
    )


def _clock(typed: str) -> str | None:
    """``HH:MM`` from what a time field (or a browser without one) sends: 9:00, 9h, 09h30."""
    match = _TYPED.match(typed.strip())
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    if hours > 23 or minutes > 59:
        return None
    return f"{hours:02d}:{minutes:02d}"


def checked(form: Form, name: str) -> tuple[str | None, dict[str, str]]:
    """(the value for the API, errors by input name): the rows as canonical text, or the
    text as typed; the value as loaded when the rows say the same."""
    editor = typed_editor(form, name)
    if editor.mode == "texte":
        return editor.text or None, {}
    errors: dict[str, str] = {}
    days: list[tuple[Range, ...]] = []
    for row in editor.rows:
        hours: list[tuple[Range, int]] = []
        for part, (start_typed, end_typed) in enumerate(row.ranges, start=1):
            what = PARTS[part - 1]
            start, end = _clock(start_typed), _clock(end_typed)
            if not start_typed and not end_typed:
                continue
            if not start_typed:
                errors.setdefault(row.key(part, "start"), f"indiquez l’heure de début ({what})")
            elif start is None:
                errors.setdefault(
                    row.key(part, "start"), f"heure de début non reconnue ({what}), ex. 09:00"
                )
            elif not end_typed:
                errors.setdefault(row.key(part, "end"), f"indiquez l’heure de fin ({what})")
            elif end is None:
                errors.setdefault(
                    row.key(part, "end"), f"heure de fin non reconnue ({what}), ex. 12:00"
                )
            elif end <= start:
                errors.setdefault(row.key(part, "end"), f"la fin doit être après le début ({what})")
            else:
                hours.append(((start, end), part))
        hours.sort()
        if len(hours) == 2 and hours[0][0][1] > hours[1][0][0]:
            errors.setdefault(row.key(2, "start"), "le matin et l’après-midi se chevauchent")
        days.append(tuple(h for h, _ in hours))
    if errors:
        return None, errors
    week = Week(tuple(days), editor.holidays_closed)
    loaded = read(editor.loaded)
    if loaded is not None and loaded.week == week:
        return editor.loaded or None, {}
    return serialise(week), {}


def labels_of(name: str, label: str) -> dict[str, str]:
    """The words of each input, for the error summary (« Horaires, lundi »)."""
    found = {name: label}
    for index, code in enumerate(DAYS):
        row = DayRow(code.lower(), DAY_NAMES[index], ())
        for part in range(1, MAX_RANGES + 1):
            for end in ("start", "end"):
                found[row.key(part, end)] = f"{label}, {row.name.lower()}"
    return found
