"""Reading one raw data·inclusion row field by field: JSON (typed values), CSV (text, lists
comma-separated) and spreadsheets (numbers and dates as Excel gives them) normalised alike, every
error collected with its field, value and reason instead of stopping at the first."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from services.directory.domain import validation as rules
from services.directory.interop.datainclusion.fields import MAX_ITEM, MAX_ITEMS, Kind, RowError

# --------------------------------------------------------------------------- normalisation


def _report_value(value: Any) -> Any:
    """The offending value as it can appear in a JSON report."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_report_value(v) for v in value]
    return str(value)


def _as_text(value: Any) -> str | None:
    """A scalar as text: spreadsheets give numbers for codes (59260.0) and dates as datetimes."""
    if value is None:
        return None
    if isinstance(value, str):
        if "\x00" in value:
            raise TypeError("caractère NUL interdit")
        text = value.strip()
        return text or None
    if isinstance(value, bool):
        raise TypeError("texte attendu")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError("texte attendu")


_SPLIT = re.compile(r"[,;|]")


def _as_list(value: Any) -> list[str] | None:
    """A list field: a JSON array, or a string of comma-separated values (CSV, spreadsheet)."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        items = []
        for item in value:
            text = _as_text(item)
            if text is not None:
                items.append(text)
        return items or None
    text = _as_text(value)
    if text is None:
        return None
    if text.startswith("["):
        try:
            decoded = json.loads(text)
        except ValueError:
            raise TypeError("liste attendue") from None
        if not isinstance(decoded, list):
            raise TypeError("liste attendue")
        return _as_list(decoded)
    items = [part.strip() for part in _SPLIT.split(text)]
    return [i for i in items if i] or None


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --------------------------------------------------------------------------- row reader


class Row:
    """Reads one raw row field by field, collecting every error instead of stopping at one."""

    __slots__ = ("errors", "kind", "raw", "row", "source_id")

    def __init__(self, kind: Kind, row: int, raw: Mapping[str, Any]) -> None:
        self.kind = kind
        self.row = row
        self.raw = raw
        self.errors: list[RowError] = []
        self.source_id: str | None = None

    def error(self, name: str, reason: str, value: Any = None) -> None:
        self.errors.append(
            RowError(
                kind=self.kind,
                row=self.row,
                source_id=self.source_id,
                field=name,
                reason=reason,
                value=_report_value(value),
            )
        )

    def has_error(self, *names: str) -> bool:
        return any(e.field in names for e in self.errors)

    def text(
        self,
        name: str,
        *,
        required: bool = False,
        min_length: int = 0,
        max_length: int | None = None,
    ) -> str | None:
        raw = self.raw.get(name)
        try:
            text = _as_text(raw)
        except TypeError as exc:
            self.error(name, str(exc), raw)
            return None
        if text is None:
            if required:
                self.error(name, "champ requis")
            return None
        if len(text) < min_length:
            self.error(name, f"doit contenir au moins {min_length} caractères", raw)
            return None
        if max_length is not None and len(text) > max_length:
            self.error(name, f"doit contenir au plus {max_length} caractères", raw)
            return None
        return text

    def code(self, name: str) -> str | None:
        """An INSEE or postal code; a spreadsheet number lost its leading zero (1001 → 01001)."""
        raw = self.raw.get(name)
        text = self.text(name, max_length=10)
        if text is not None and isinstance(raw, int | float) and len(text) == 4:
            text = text.zfill(5)
        return text.upper() if text is not None else None

    def checked(self, name: str, check: Callable[[str], str]) -> str | None:
        """A text field normalised by a domain validator (raises ``Invalid`` with a reason)."""
        text = self.text(name)
        if text is None:
            return None
        try:
            return check(text)
        except rules.Invalid as exc:
            self.error(name, exc.reason, self.raw.get(name))
            return None

    def day(self, name: str) -> datetime | None:
        raw = self.raw.get(name)
        if isinstance(raw, datetime):
            return datetime.combine(raw.date(), time(0), tzinfo=UTC)
        if isinstance(raw, date):
            return datetime.combine(raw, time(0), tzinfo=UTC)
        text = self.text(name, required=True)
        if text is None:
            return None
        try:
            parsed = date.fromisoformat(text[:10])
            if len(text) > 10:
                datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.error(name, "date attendue au format AAAA-MM-JJ", raw)
            return None
        return datetime.combine(parsed, time(0), tzinfo=UTC)

    def number(self, name: str, *, minimum: float | None = None) -> float | None:
        raw = self.raw.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        value: float | None = None
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
        elif isinstance(raw, str):
            try:
                value = float(raw.strip().replace(",", "."))
            except ValueError:
                value = None
        if value is None or not math.isfinite(value):
            self.error(name, "nombre attendu", raw)
            return None
        if minimum is not None and value < minimum:
            self.error(name, f"doit être supérieur ou égal à {minimum:g}", raw)
            return None
        return value

    def integer(self, name: str, *, minimum: int | None = None) -> int | None:
        raw = self.raw.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        value: int | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif isinstance(raw, float) and raw.is_integer():
            value = int(raw)
        elif isinstance(raw, str) and re.fullmatch(r"[+-]?\d{1,9}", raw.strip()):
            value = int(raw.strip())
        if value is None:
            self.error(name, "nombre entier attendu", raw)
            return None
        if minimum is not None and value < minimum:
            self.error(name, f"doit être supérieur ou égal à {minimum}", raw)
            return None
        return value

    def values(self, name: str, *, min_items: int = 0) -> list[str]:
        raw = self.raw.get(name)
        try:
            items = _as_list(raw)
        except TypeError as exc:
            self.error(name, str(exc), raw)
            return []
        if not items:
            if min_items and isinstance(raw, list):
                self.error(name, f"doit contenir au moins {min_items} valeur(s)", raw)
            return []
        if len(items) > MAX_ITEMS:
            self.error(name, f"au plus {MAX_ITEMS} valeurs", len(items))
            return []
        for item in items:
            if len(item) > MAX_ITEM:
                self.error(name, f"valeur de plus de {MAX_ITEM} caractères", item)
                return []
        return unique(items)
