"""Opening hours as a week: one row per day, up to two time ranges each, and « fermé les jours
fériés » — the part of OpenStreetMap's ``opening_hours`` syntax a per-day form can show.

``parse`` reads a stored value into a ``Week`` (``None`` when it uses anything else: public
holiday hours, nth weekday, weeks, months, comments, ranges past midnight, ``24/7``…; the edit
page then keeps the text as written). ``serialise`` writes a week back in the short canonical
form: days with the same hours together, consecutive ones as a range (« Mo-Fr 09:00-12:00;
Sa 09:00-12:00 » is written « Mo-Sa 09:00-12:00 »), ``PH off`` last.

The rules are read as OSM says: a later rule replaces the hours of the days it names
(« Mo-Fr 09:00-12:00; We 14:00-17:00 » is closed on Wednesday morning). ``Reading.replaced``
says a value did that, for the page to ask the person to check it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
DAY_NAMES = ("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche")
MAX_RANGES = 2

Range = tuple[str, str]  # ("09:00", "12:00"), start before end, both within one day


@dataclass(frozen=True)
class Week:
    days: tuple[tuple[Range, ...], ...] = ((),) * 7  # Monday first, each sorted
    holidays_closed: bool = False

    @property
    def closed(self) -> bool:
        return not any(self.days)


@dataclass(frozen=True)
class Reading:
    week: Week
    replaced: bool  # a later rule replaced hours an earlier one gave


_DAY = r"(?:Mo|Tu|We|Th|Fr|Sa|Su)"
# No space around a day list's commas: « We, Fr 09:00-12:00 » is two rules to OSM (« , » then
# a space separates additional rules), Wednesday open all day.
_RULE = re.compile(rf"^(?P<days>{_DAY}(?:-{_DAY})?(?:,{_DAY}(?:-{_DAY})?)*)\s+(?P<rest>.+)$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def _time(text: str) -> str | None:
    """``HH:MM`` within a day (00:00 to 23:59), or None."""
    match = _TIME.match(text.strip())
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        return None
    return f"{hours:02d}:{minutes:02d}"


def _selected(selector: str) -> list[int]:
    chosen: list[int] = []
    for item in selector.split(","):
        bounds = item.split("-")
        first = DAYS.index(bounds[0])
        last = DAYS.index(bounds[-1])
        span = (last - first) % 7  # « Sa-Mo » goes round the week end, as OSM reads it
        chosen.extend((first + n) % 7 for n in range(span + 1))
    return chosen


def _ranges(text: str) -> tuple[Range, ...] | None:
    found: list[Range] = []
    for part in text.split(","):
        bounds = part.strip().split("-")
        if len(bounds) != 2:
            return None
        start, end = _time(bounds[0]), _time(bounds[1])
        if start is None or end is None or end <= start:
            return None
        found.append((start, end))
    found.sort()
    if len(found) > MAX_RANGES or any(a[1] > b[0] for a, b in itertools.pairwise(found)):
        return None
    return tuple(found)


def read(value: str | None) -> Reading | None:
    """The week a stored value says, or None when the per-day form cannot show it."""
    days: list[tuple[Range, ...]] = [()] * 7
    given = [False] * 7
    replaced = False
    holidays_closed = False
    for raw in (value or "").split(";"):
        rule = " ".join(raw.split())
        if not rule:
            continue
        if rule in ("PH off", "PH closed"):
            holidays_closed = True
            continue
        if holidays_closed:
            return None  # a day rule after « PH off » would open some public holidays again
        match = _RULE.match(rule)
        if not match:
            return None
        rest = match.group("rest")
        hours = () if rest in ("off", "closed") else _ranges(rest)
        if hours is None:
            return None
        for day in _selected(match.group("days")):
            if given[day] and days[day] != hours:
                replaced = True
            days[day] = hours
            given[day] = True
    return Reading(Week(tuple(days), holidays_closed), replaced)


def parse(value: str | None) -> Week | None:
    reading = read(value)
    return reading.week if reading else None


def _selector(days: list[int]) -> str:
    """``Mo-We,Fr`` from [0, 1, 2, 4]: runs of three days or more as a range."""
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAYS[run[0]]}-{DAYS[run[-1]]}")
        else:
            parts.extend(DAYS[d] for d in run)
    return ",".join(parts)


def serialise(week: Week) -> str | None:
    """The canonical text of a week; None when closed every day (no hours to publish)."""
    if week.closed:
        return None
    groups: dict[tuple[Range, ...], list[int]] = {}
    for day, hours in enumerate(week.days):
        if hours:
            groups.setdefault(tuple(sorted(hours)), []).append(day)
    rules = [
        f"{_selector(days)} {','.join(f'{a}-{b}' for a, b in hours)}"
        for hours, days in sorted(groups.items(), key=lambda item: item[1][0])
    ]
    if week.holidays_closed:
        rules.append("PH off")
    return "; ".join(rules)


def canonical(value: str | None) -> str | None:
    """The canonical text of a stored value the form can show; any other value as it is."""
    week = parse(value)
    if week is None:
        return value
    return serialise(week)
