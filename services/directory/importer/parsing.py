"""Parsing the rows of an import (pure Python, no I/O: it runs in worker threads), with the
rejection of a source id seen twice in one import."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from services.directory.importer.report import ImportReport
from services.directory.interop.datainclusion import fields as di_fields
from services.directory.interop.datainclusion import parse as di_parse
from services.directory.interop.datainclusion.fields import RowError, ServiceRecord, StructureRecord


def row_numbers(count: int, rows: Sequence[int] | None) -> Sequence[int]:
    if rows is not None and len(rows) == count:
        return rows
    return range(1, count + 1)


def _raw_key(raw: Any, default_source: str | None) -> tuple[str, str] | None:
    if not isinstance(raw, Mapping):
        return None
    source = raw.get("source") or default_source
    source_id = raw.get("id")
    if isinstance(source, str) and isinstance(source_id, str | int):
        return source.strip(), str(source_id).strip()
    return None


def parse_structures(
    rows: Sequence[Mapping[str, Any]],
    numbers: Sequence[int] | None,
    default_source: str | None,
    report: ImportReport,
) -> dict[tuple[str, str], StructureRecord | list[RowError]]:
    """Parsed rows by (source, source id); a rejected row keeps its key (services cite it)."""
    records: dict[tuple[str, str], StructureRecord | list[RowError]] = {}
    for raw, number in zip(rows, row_numbers(len(rows), numbers), strict=True):
        parsed = di_parse.parse_structure(raw, number, default_source=default_source)
        key = (
            (parsed.source, parsed.source_id)
            if isinstance(parsed, StructureRecord)
            else _raw_key(raw, default_source)
        )
        if key is not None and key in records:
            first = records[key]
            first_row = first.row if isinstance(first, StructureRecord) else first[0].row
            parsed = [_duplicate("structure", number, key[1], first_row)]
            key = None
        if isinstance(parsed, list):
            report.reject(report.structures, parsed)
        if key is not None:
            records[key] = parsed
    return records


class ParsedServices(msgspec.Struct):
    records: list[ServiceRecord]
    rejected: list[list[RowError]]


class ServiceParser:
    """Parses service rows chunk after chunk (pure Python, no I/O: it runs in a worker
    thread), rejecting a source id already seen in an earlier row of the import."""

    def __init__(self, default_source: str | None) -> None:
        self.default_source = default_source
        self.seen: dict[tuple[str, str], int] = {}

    def parse(self, rows: Sequence[Mapping[str, Any]], numbers: Sequence[int]) -> ParsedServices:
        parsed_rows = ParsedServices(records=[], rejected=[])
        for raw, number in zip(rows, numbers, strict=True):
            parsed = di_parse.parse_service(raw, number, default_source=self.default_source)
            key = _raw_key(raw, self.default_source)
            if isinstance(parsed, ServiceRecord):
                key = (parsed.source, parsed.source_id)
            if key is not None and key in self.seen:
                parsed = [_duplicate("service", number, key[1], self.seen[key])]
            elif key is not None:
                self.seen[key] = number
            if isinstance(parsed, list):
                parsed_rows.rejected.append(parsed)
            else:
                parsed_rows.records.append(parsed)
        return parsed_rows


def _duplicate(kind: di_fields.Kind, row: int, source_id: str, first_row: int) -> RowError:
    return RowError(
        kind=kind,
        row=row,
        source_id=source_id,
        field="id",
        reason=f"identifiant en double dans cet import (déjà ligne {first_row})",
        value=source_id,
    )
