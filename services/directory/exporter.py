"""Streamed exports of the public directory: data·inclusion v1 (JSON, CSV) and HSDS 3.1 (JSON).

``export(session, format, kind)`` is an async generator of bytes: rows are read in keyset
batches and encoded batch by batch, so memory stays flat whatever the directory's size. The
HTTP endpoint and ``relais export`` both stream it.

- ``datainclusion-json``: a JSON array of structures or services (v1 schema field names);
- ``datainclusion-csv``: the same as CSV (header = v1 field names, lists comma-separated);
- ``hsds-json``: a JSON array of HSDS organizations (``kind=structures``) or of HSDS services
  with their nested organization, service areas and attributes (``kind=services``).
"""

from __future__ import annotations

import csv
import enum
import io
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory import hsds_view
from services.directory import publication as pub
from services.directory.interop import hsds
from services.directory.interop.datainclusion import export as di_export
from services.directory.interop.datainclusion import fields as di_fields
from services.directory.models import Service, Structure

Kind = Literal["structures", "services"]


class ExportFormat(enum.StrEnum):
    DATAINCLUSION_JSON = "datainclusion-json"
    DATAINCLUSION_CSV = "datainclusion-csv"
    HSDS_JSON = "hsds-json"

    @property
    def media_type(self) -> str:
        # (Litestar adds "; charset=utf-8" to text types itself.)
        return "text/csv" if self is ExportFormat.DATAINCLUSION_CSV else "application/json"

    def file_name(self, kind: str) -> str:
        suffix = "csv" if self is ExportFormat.DATAINCLUSION_CSV else "json"
        prefix = "hsds" if self is ExportFormat.HSDS_JSON else "data-inclusion"
        return f"{prefix}-{kind}.{suffix}"


async def export(
    session: AsyncSession, fmt: ExportFormat, kind: str, *, batch: int = pub.BATCH
) -> AsyncIterator[bytes]:
    """The whole public directory in ``fmt``, as a stream of byte chunks."""
    records = _records(session, fmt, kind, batch)
    if fmt is ExportFormat.DATAINCLUSION_CSV:
        fields = di_fields.STRUCTURE_FIELDS if kind == "structures" else di_fields.SERVICE_FIELDS
        yield _csv_rows([list(fields)])
        async for items in records:
            yield _csv_rows(
                [[di_export.to_csv_cell(item.get(f)) for f in fields] for item in items]
            )
        return
    first = True
    yield b"["
    async for items in records:
        if not items:
            continue
        body = b",\n".join(msgspec.json.encode(item) for item in items)
        yield (b"\n" if first else b",\n") + body
        first = False
    yield b"\n]\n"


def _csv_rows(rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


async def _records(
    session: AsyncSession, fmt: ExportFormat, kind: str, batch: int
) -> AsyncIterator[list[dict[str, Any]]]:
    as_hsds = fmt is ExportFormat.HSDS_JSON
    if kind == "structures":
        async for rows in pub.batches(session, pub.structure_rows(), Structure.id, size=batch):
            if as_hsds:
                yield [hsds.organization(r, full=True) for r in rows]
            else:
                yield [di_export.structure_to_datainclusion(r) for r in rows]
        return
    async for rows in pub.batches(session, pub.service_rows(), Service.id, size=batch):
        zones = await pub.zones_of(session, [r["id"] for r in rows])
        if not as_hsds:
            yield [
                di_export.service_to_datainclusion(
                    r, r["structure_source_id"] or str(r["structure_id"]), zones.get(r["id"], [])
                )
                for r in rows
            ]
            continue
        structures = await _structures(session, {r["structure_id"] for r in rows})
        sals = await hsds_view.sals_of_services(session, [r["id"] for r in rows])
        yield [
            hsds.service(
                r,
                zones=zones.get(r["id"], []),
                full=True,
                organization_row=structures.get(r["structure_id"]),
                service_at_locations=sals.get(r["id"], []),
            )
            for r in rows
        ]


async def _structures(
    session: AsyncSession, ids: set[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    if not ids:
        return {}
    query = sa.select(*Structure.__table__.c).where(Structure.id.in_(list(ids)))
    return {row["id"]: dict(row) for row in (await session.execute(query)).mappings()}
