"""Streamed exports of the public directory (open data, anonymous):

- ``GET /directory/v1/exports/data-inclusion/{structures|services}?format=json|csv``
- ``GET /directory/v1/exports/hsds/{organizations|services}`` (JSON array)

Bodies are streamed batch by batch from the database (never built whole in memory).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.response import Stream

from services.directory import exporter
from services.kernel.db import Database
from services.kernel.problems import field_error


def _stream(
    request: Request[Any, Any, Any], fmt: exporter.ExportFormat, kind: str, name: str
) -> Stream:
    db: Database = request.app.state.db

    async def body() -> AsyncIterator[bytes]:
        # Its own session: the request's one is closed once the handler has returned.
        async with db.session() as session:
            async for chunk in exporter.export(session, fmt, kind):
                yield chunk

    return Stream(
        body(),
        media_type=fmt.media_type,
        headers={"Content-Disposition": f'attachment; filename="{fmt.file_name(name)}"'},
    )


class ExportController(Controller):
    path = "/directory/v1/exports"
    tags = ["exports"]  # noqa: RUF012

    @get(
        "/data-inclusion/{kind:str}",
        operation_id="ExportDataInclusion",
        summary="Exporter au format data·inclusion v1",
        response_description="tableau JSON ou CSV (en-tête : champs du schéma v1)",
    )
    async def data_inclusion(
        self,
        request: Request[Any, Any, Any],
        kind: str,
        format: Annotated[
            Literal["json", "csv"], Parameter(description="json (défaut) ou csv")
        ] = "json",
    ) -> Stream:
        """Structures ou services publiés ; contacts réservés aux membres exclus."""
        if kind not in ("structures", "services"):
            raise field_error("kind", "structures ou services", status=404)
        fmt = (
            exporter.ExportFormat.DATAINCLUSION_CSV
            if format == "csv"
            else exporter.ExportFormat.DATAINCLUSION_JSON
        )
        return _stream(request, fmt, kind, kind)

    @get(
        "/hsds/{kind:str}",
        operation_id="ExportHsds",
        summary="Exporter au format HSDS 3.1 (JSON)",
        response_description="tableau JSON d'organisations ou de services HSDS complets",
    )
    async def hsds(self, request: Request[Any, Any, Any], kind: str) -> Stream:
        """Organisations ou services publiés, objets HSDS complets."""
        mapping = {"organizations": "structures", "services": "services"}
        if kind not in mapping:
            raise field_error("kind", "organizations ou services", status=404)
        return _stream(request, exporter.ExportFormat.HSDS_JSON, mapping[kind], kind)
