"""Dates, hours and numbers in plain French (« 3 décembre 2026 », « de 9 h à 12 h 30 »).

Opening hours come in OpenStreetMap's ``opening_hours`` syntax; the common forms (days, day
ranges, several time spans, nth weekday of the month, public holidays, ``24/7``) are said in
words. Anything else is shown as « horaires : … » with the text as written.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.web.hours import canonical

PARIS = ZoneInfo("Europe/Paris")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
DAYS = {
    "Mo": "lundi",
    "Tu": "mardi",
    "We": "mercredi",
    "Th": "jeudi",
    "Fr": "vendredi",
    "Sa": "samedi",
    "Su": "dimanche",
}
_ORDER = list(DAYS)


def day_fr(value: date | datetime | None) -> str:
    """« 3 décembre 2026 » (« 1er » for the first); local date in France for a datetime."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    first = "1er" if value.day == 1 else str(value.day)
    return f"{first} {MONTHS[value.month - 1]} {value.year}"


def time_fr(value: str) -> str:
    """« 9 h », « 17 h 30 » from ``HH:MM``."""
    hours, minutes = value.split(":")
    h = int(hours)
    return f"{h} h" if minutes == "00" else f"{h} h {minutes}"


def moment_fr(value: datetime | None) -> str:
    """« 3 décembre 2026 à 9 h 05 »."""
    if value is None:
        return ""
    local = value.astimezone(PARIS)
    return f"{day_fr(local)} à {time_fr(local.strftime('%H:%M'))}"


def phone_fr(value: str | None) -> str:
    """A French number as people write it (« 04 75 12 34 56 »); other countries as given."""
    if not value:
        return ""
    digits = re.sub(r"[\s.\-()]", "", value)
    if digits.startswith("+33") and len(digits) == 12:
        digits = "0" + digits[3:]
    if re.fullmatch(r"0\d{9}", digits):
        return " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    return value


def distance_fr(km: float | None, approximate: bool = False) -> str:
    """« à 3,5 km »; ``approximate`` (measured to a commune's centre): « à environ 3,5 km »."""
    if km is None:
        return ""
    prefix = "à environ" if approximate else "à"
    if km < 1:
        return f"{prefix} {max(round(km * 1000, -1), 10):.0f} m"
    return f"{prefix} {km:.1f} km".replace(".", ",") if km < 10 else f"{prefix} {km:.0f} km"


def duration_fr(hours: float | None) -> str:
    """A delay in words: « 45 min », « 7 h », « 3 j 4 h » (« 12 j » from ten days)."""
    if hours is None:
        return ""
    minutes = round(hours * 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        h, m = divmod(minutes, 60)
        return f"{h} h {m:02d}" if m else f"{h} h"
    days, rest = divmod(round(hours), 24)
    return f"{days} j {rest} h" if rest and days < 10 else f"{days} j"


def number_fr(value: float | None, digits: int = 1) -> str:
    """« 1 234 », « 3,5 » (French separators)."""
    if value is None:
        return ""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", "\u202f")
    return f"{value:,.{digits}f}".replace(",", "\u202f").replace(".", ",")


def percent_fr(share: float | None) -> str:
    """« 62,5 % » from 0.625."""
    if share is None:
        return ""
    return f"{number_fr(round(share * 100, 1))}\u00a0%"


_SPAN = re.compile(r"^(\d{2}:\d{2})-(\d{2}:\d{2})$")
_NTH = re.compile(r"^(Mo|Tu|We|Th|Fr|Sa|Su)\[([\d,]+)\]$")


def _ordinal(n: str) -> str:
    return "1er" if n == "1" else f"{n}e"


def _days(selector: str) -> str | None:
    nth = _NTH.match(selector)
    if nth:
        ranks = [_ordinal(n) for n in nth.group(2).split(",")]
        return f"le {_join(ranks, 'et le')} {DAYS[nth.group(1)]} du mois"
    parts = []
    for item in selector.split(","):
        if item in DAYS:
            parts.append(("one", item))
            continue
        bounds = item.split("-")
        if len(bounds) != 2 or bounds[0] not in DAYS or bounds[1] not in DAYS:
            return None
        parts.append(("range", item))
    said = []
    for kind, item in parts:
        if kind == "one":
            said.append(f"le {DAYS[item]}")
        else:
            start, end = item.split("-")
            if (start, end) == ("Mo", "Su"):
                said.append("tous les jours")
            elif _ORDER.index(end) - _ORDER.index(start) == 1:
                said.append(f"le {DAYS[start]} et le {DAYS[end]}")
            else:
                said.append(f"du {DAYS[start]} au {DAYS[end]}")
    return _join(said, "et")


def _join(items: list[str], word: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _span(start: str, end: str) -> str | None:
    """« de 9 h à 12 h »; a span past midnight (``18:00-09:00``, or OSM's ``22:00-26:00``)
    ends « le lendemain », and one ending at midnight (``24:00``) « à minuit »."""
    if int(start[:2]) >= 24 or int(end[:2]) > 48 or int(start[3:]) > 59 or int(end[3:]) > 59:
        return None
    if end in ("24:00", "00:00"):
        return f"de {time_fr(start)} à minuit"
    hours = int(end[:2])
    if hours >= 24:
        return f"de {time_fr(start)} à {time_fr(f'{hours - 24:02d}{end[2:]}')} le lendemain"
    if end <= start:
        return f"de {time_fr(start)} à {time_fr(end)} le lendemain"
    return f"de {time_fr(start)} à {time_fr(end)}"


def _times(text: str) -> str | None:
    spans = []
    for span in text.split(","):
        match = _SPAN.match(span.strip())
        said = _span(match.group(1), match.group(2)) if match else None
        if said is None:
            return None
        spans.append(said)
    return _join(spans, "et")


def _rule(rule: str) -> str | None:
    rule = rule.strip()
    if not rule:
        return ""
    if rule == "24/7":
        return "tous les jours, 24 h sur 24"
    if rule == "PH off":
        return "fermé les jours fériés"
    if rule in ("off", "closed"):
        return "fermé"
    selector, _, rest = rule.partition(" ")
    if selector == "PH":
        times = _times(rest)
        return f"les jours fériés {times}" if times else None
    days = _days(selector)
    if days is None:
        return None
    rest = rest.strip()
    if rest in ("off", "closed"):
        return f"fermé {days}"
    times = _times(rest)
    if times is None:
        return None
    return f"{days}, {times}"


def hours_fr(value: str | None) -> list[str]:
    """Each rule in words (one line each); empty when there are no hours. A value the week
    form can read is said in its canonical text, whose rules name separate days: said one by
    one, they mean what opening_hours means (where a later rule replaces the days it names)."""
    value = canonical(value)
    if not value or not value.strip():
        return []
    said = []
    for rule in value.split(";"):
        words = _rule(rule)
        if words is None:
            return [f"horaires : {value.strip()}"]
        if words:
            said.append(words[0].upper() + words[1:])
    return said
