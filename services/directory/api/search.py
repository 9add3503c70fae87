"""Search: ``GET /directory/v1/search/services`` and ``/search/structures``.

Free text (French-aware, typo-tolerant, synonyms), filters, eligibility for a commune, distance,
facets and highlighted matches in one response; keyset cursor pagination. The backend that
answered is named in ``X-Search-Backend`` (``X-Search-Fallback`` when Meilisearch could not).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.search import engine, resolve
from services.directory.search.backend import Kind
from services.directory.search.meili import primary_backend
from services.directory.search.schemas import SearchPage, ServiceHit, StructureHit
from services.kernel.app import AUTOCOMMIT
from services.kernel.identity import Caller
from services.kernel.settings import Settings

PREFIX = "/directory/v1/search"

Values = Annotated[
    list[str] | None,
    Parameter(description="valeurs (paramètre répété ou liste séparée par des virgules)"),
]
Query = Annotated[
    str | None,
    Parameter(description="texte libre : mots, sigles (CAF, RSA…), fautes de frappe tolérées"),
]


async def _run(
    kind: Kind,
    request: Request[Any, Any, Any],
    session: AsyncSession,
    caller: Caller | None,
    params: dict[str, Any],
) -> Response[Any]:
    settings: Settings = request.app.state.settings
    search_params = resolve.SearchParams(kind=kind, path=request.url.path, **params)
    outcome = await engine.search(
        search_params, caller, settings, session, primary_backend(request.app.state)
    )
    return Response(outcome.page, headers=outcome.headers)


class SearchController(Controller):
    path = PREFIX
    tags = ["recherche"]  # noqa: RUF012

    # Reads only, each statement in its own snapshot (an entry deleted between the search and
    # the read of its row is left out): no BEGIN/COMMIT round trips.
    @get(
        "/services",
        operation_id="SearchServices",
        summary="Rechercher des services",
        opt={AUTOCOMMIT: True},
    )
    async def search_services(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller | None,
        q: Query = None,
        thematiques: Values = None,
        publics: Values = None,
        types: Values = None,
        fees: Values = None,
        reception_modes: Values = None,
        networks: Values = None,
        typologies: Values = None,
        capacity: Values = None,
        appointment_required: bool | None = None,
        exclude_stale: bool = False,
        status: Values = None,
        commune: Annotated[
            str | None, Parameter(description="code INSEE ou code postal de la personne")
        ] = None,
        lat: float | None = None,
        lon: float | None = None,
        radius_km: float | None = None,
        sort: Annotated[str | None, Parameter(description="relevance ou distance")] = None,
        limit: int = resolve.DEFAULT_LIMIT,
        cursor: str | None = None,
        facets: bool = True,
        highlight: bool = True,
    ) -> Response[SearchPage[ServiceHit]]:
        """Services matching a need, a place and filters, best first, with facet counts."""
        return await _run(
            "service",
            request,
            session,
            caller,
            {
                "q": q,
                "filters": {
                    "thematiques": thematiques or [],
                    "publics": publics or [],
                    "types": types or [],
                    "fees": fees or [],
                    "reception_modes": reception_modes or [],
                    "networks": networks or [],
                    "typologies": typologies or [],
                },
                "capacity": capacity or [],
                "appointment_required": appointment_required,
                "exclude_stale": exclude_stale,
                "status": status or [],
                "commune": commune,
                "lat": lat,
                "lon": lon,
                "radius_km": radius_km,
                "sort": sort,
                "limit": limit,
                "cursor": cursor,
                "facets": facets,
                "highlight": highlight,
            },
        )

    @get(
        "/structures",
        operation_id="SearchStructures",
        summary="Rechercher des structures",
        opt={AUTOCOMMIT: True},
    )
    async def search_structures(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller | None,
        q: Query = None,
        thematiques: Values = None,
        publics: Values = None,
        reception_modes: Values = None,
        networks: Values = None,
        typologies: Values = None,
        exclude_stale: bool = False,
        status: Values = None,
        commune: Annotated[
            str | None, Parameter(description="code INSEE ou code postal de la personne")
        ] = None,
        lat: float | None = None,
        lon: float | None = None,
        radius_km: float | None = None,
        sort: Annotated[str | None, Parameter(description="relevance ou distance")] = None,
        limit: int = resolve.DEFAULT_LIMIT,
        cursor: str | None = None,
        facets: bool = True,
        highlight: bool = True,
    ) -> Response[SearchPage[StructureHit]]:
        """Structures by name, activity, place and filters, best first, with facet counts."""
        return await _run(
            "structure",
            request,
            session,
            caller,
            {
                "q": q,
                "filters": {
                    "thematiques": thematiques or [],
                    "publics": publics or [],
                    "reception_modes": reception_modes or [],
                    "networks": networks or [],
                    "typologies": typologies or [],
                },
                "exclude_stale": exclude_stale,
                "status": status or [],
                "commune": commune,
                "lat": lat,
                "lon": lon,
                "radius_km": radius_km,
                "sort": sort,
                "limit": limit,
                "cursor": cursor,
                "facets": facets,
                "highlight": highlight,
            },
        )
