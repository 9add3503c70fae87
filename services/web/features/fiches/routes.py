"""Fiche service and fiche structure: everything a worker needs before orienting someone."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from litestar import Controller, Request, Response, get

from services.web.clients.base import ApiError
from services.web.clients.directory import DirectoryApi, Place, Structure
from services.web.rendering import render


async def places_by_id(directory: DirectoryApi, structure_id: uuid.UUID) -> dict[uuid.UUID, Place]:
    return {p.id: p for p in await directory.places_of(structure_id)}


class Fiches(Controller):
    include_in_schema = False

    @get("/services/{service_id:uuid}")
    async def service(
        self, request: Request[Any, Any, Any], directory: DirectoryApi, service_id: uuid.UUID
    ) -> Response[Any]:
        service, _ = await directory.service(service_id)
        structure: Structure | None
        (structure, _), places = await asyncio.gather(
            directory.structure(service.structure_id),
            places_by_id(directory, service.structure_id) if service.sessions else _no_places(),
        )
        return render(
            request,
            "fiches/service.html",
            title=service.name,
            service=service,
            structure=structure,
            places=places,
        )

    @get("/structures/{structure_id:uuid}")
    async def structure(
        self, request: Request[Any, Any, Any], directory: DirectoryApi, structure_id: uuid.UUID
    ) -> Response[Any]:
        (structure, _), services, places = await asyncio.gather(
            directory.structure(structure_id),
            directory.services_of(structure_id),
            directory.places_of(structure_id),
        )
        parent = None
        if structure.parent_id:
            try:
                parent, _ = await directory.structure(structure.parent_id)
            except ApiError as exc:
                if exc.status != 404:
                    raise
        return render(
            request,
            "fiches/structure.html",
            title=structure.name,
            structure=structure,
            services=services,
            places=places,
            parent=parent,
        )


async def _no_places() -> dict[uuid.UUID, Place]:
    return {}


ROUTES = [Fiches]
