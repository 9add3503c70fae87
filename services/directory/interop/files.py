"""Reading data·inclusion files: JSON, CSV and the producer spreadsheet template (xlsx).

Accepted inputs (``relais import data-inclusion PATH…``):

- a structures file and a services file, each a JSON array or a CSV file (comma or semicolon
  separated, UTF-8, list fields comma-separated inside a cell or given as a JSON array);
- one JSON object with ``structures`` and ``services`` keys;
- the data·inclusion spreadsheet (sheets ``Structures`` and ``Services``; rows whose
  ``__ignore__`` cell is true — descriptions, examples — are skipped).

Whether a file holds structures or services is read from its content (services have a
``structure_id``), else from its name. Row numbers in reports are spreadsheet line numbers for
CSV and xlsx (header = line 1) and 1-based positions for JSON arrays.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

_MAX_CSV_FIELD = 1_000_000


class UnreadableInput(ValueError):
    """The input cannot be read at all (not the format, not a file, wrong shape)."""


@dataclass
class Dataset:
    structures: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    structure_rows: list[int] = field(default_factory=list)
    service_rows: list[int] = field(default_factory=list)

    def add(self, kind: str, rows: Iterable[tuple[int, dict[str, Any]]]) -> None:
        for number, row in rows:
            if kind == "services":
                self.services.append(row)
                self.service_rows.append(number)
            else:
                self.structures.append(row)
                self.structure_rows.append(number)


def read_paths(paths: Sequence[Path]) -> Dataset:
    """Read every file into one dataset; raise UnreadableInput naming the faulty file."""
    if not paths:
        raise UnreadableInput("aucun fichier donné")
    dataset = Dataset()
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UnreadableInput(f"{path}: illisible ({exc.strerror or exc})") from exc
        try:
            read_bytes(data, path.name, dataset)
        except UnreadableInput as exc:
            raise UnreadableInput(f"{path}: {exc}") from exc
    return dataset


def read_bytes(data: bytes, name: str, dataset: Dataset | None = None) -> Dataset:
    dataset = dataset if dataset is not None else Dataset()
    lower = name.lower()
    if lower.endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        _read_xlsx(data, dataset)
    elif lower.endswith(".csv"):
        _read_csv(data, name, dataset)
    else:
        _read_json(data, name, dataset)
    return dataset


def _kind_of(rows: list[dict[str, Any]], name: str) -> str:
    if any("structure_id" in row for row in rows):
        return "services"
    if rows:
        return "structures"
    return "services" if "service" in name.lower() else "structures"


def _read_json(data: bytes, name: str, dataset: Dataset) -> None:
    try:
        document = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise UnreadableInput(f"JSON invalide ({exc})") from None
    if isinstance(document, dict):
        unknown = set(document) - {"structures", "services", "source"}
        if unknown or not ({"structures", "services"} & set(document)):
            raise UnreadableInput("objet JSON attendu avec les clés « structures » et « services »")
        for kind in ("structures", "services"):
            rows = document.get(kind) or []
            if not isinstance(rows, list):
                raise UnreadableInput(f"« {kind} » doit être un tableau JSON")
            dataset.add(kind, enumerate(rows, start=1))
        return
    if not isinstance(document, list):
        raise UnreadableInput("tableau JSON ou objet {structures, services} attendu")
    rows = [r for r in document if isinstance(r, dict)]
    dataset.add(_kind_of(rows, name), enumerate(document, start=1))


def _read_csv(data: bytes, name: str, dataset: Dataset) -> None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableInput("CSV : encodage UTF-8 attendu") from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    csv.field_size_limit(_MAX_CSV_FIELD)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise UnreadableInput("CSV : ligne d'en-tête absente")
        columns = _columns(header)
        rows: list[tuple[int, dict[str, Any]]] = []
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            row = {key: cells[i] if i < len(cells) else None for i, key in columns}
            if _ignored(row):
                continue
            rows.append((number, row))
    except csv.Error as exc:
        raise UnreadableInput(f"CSV illisible ({exc})") from None
    dataset.add(_kind_of([r for _, r in rows] or [dict.fromkeys(header)], name), rows)


def _columns(header: Sequence[Any]) -> list[tuple[int, str]]:
    """Usable columns: named by a string, first occurrence of a duplicated name wins."""
    seen: set[str] = set()
    columns = []
    for index, cell in enumerate(header):
        if not isinstance(cell, str) or not cell.strip():
            continue
        key = cell.strip()
        if key in seen:
            continue
        seen.add(key)
        columns.append((index, key))
    return columns


def _ignored(row: dict[str, Any]) -> bool:
    flag = row.pop("__ignore__", None)
    if isinstance(flag, str):
        return flag.strip().lower() in {"1", "true", "vrai", "x", "oui", "yes"}
    return bool(flag)


def _read_xlsx(data: bytes, dataset: Dataset) -> None:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a corrupt file
        raise UnreadableInput(f"classeur xlsx illisible ({type(exc).__name__})") from None
    try:
        sheets = {name.strip().lower(): name for name in workbook.sheetnames}
        if "structures" not in sheets and "services" not in sheets:
            raise UnreadableInput("classeur sans feuille « Structures » ni « Services »")
        for kind in ("structures", "services"):
            if kind not in sheets:
                continue
            rows_iter = workbook[sheets[kind]].iter_rows(values_only=True)
            header = next(rows_iter, None)
            if header is None:
                continue
            columns = _columns(header)
            rows: list[tuple[int, dict[str, Any]]] = []
            for number, cells in enumerate(rows_iter, start=2):
                if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                    continue
                row = {key: cells[i] if i < len(cells) else None for i, key in columns}
                if _ignored(row):
                    continue
                rows.append((number, row))
            dataset.add(kind, rows)
    finally:
        workbook.close()
