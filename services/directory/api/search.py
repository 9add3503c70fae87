"""Search: ``GET /directory/v1/search/services`` and ``/search/structures``.

Free text (French-aware, typo-tolerant, synonyms), filters, eligibility for a commune, distance,
facets and highlighted matches in one response; keyset cursor pagination. Distances are measured
from ``lat``/``lon`` or the commune's reference point to each entry's position (its coordinates,
else its address's geocoded position, else its commune's reference point, marked approximate);
services received only remotely have
no distance and sort after the located entries. The backend that
answered is named in ``X-Search-Backend`` (``X-Search-Fallback`` when Meilisearch could not).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.search import engine, resolve
from services.directory.search.backend import Kind, primary_backend
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
Commune = Annotated[
    str | None,
    Parameter(
        description="code INSEE ou code postal de la personne : les entrées dont la zone "
        "d'éligibilité couvre la commune ; sans lat/lon, l'origine des distances est le point de "
        "référence de la commune (un code postal : la moyenne de ses communes). Une commune sans "
        "point de référence connu (créée après les données de référence, collectivités "
        "d'outre-mer du Pacifique…) filtre encore par éligibilité, mais sort=distance ou "
        "radius_km y répondent 422 en nommant `commune` : donner lat et lon."
    ),
]
Sort = Annotated[
    str | None,
    Parameter(
        description="relevance (défaut avec q) ou distance (défaut sans q quand une origine est "
        "connue). Distances à vol d'oiseau jusqu'à la position de chaque entrée : ses "
        "coordonnées, sinon la position de son adresse trouvée par le géocodeur "
        "(position.precision = geocoded), sinon le centre de sa commune (position.precision = "
        "commune, approximative). Par distance, les services reçus uniquement à distance "
        "(remote_only) et les entrées sans position viennent après les entrées situées, avec "
        "distance_km "
        "null : un service à distance n'est « proche » de personne."
    ),
]
Radius = Annotated[
    float | None,
    Parameter(
        description="rayon en km autour de lat/lon ou de la commune ; les services reçus aussi "
        "à distance y restent quand ils sont éligibles pour la commune (joignables de partout ; "
        "sans commune, ceux éligibles dans toute la France)"
    ),
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
        commune: Commune = None,
        lat: float | None = None,
        lon: float | None = None,
        radius_km: Radius = None,
        sort: Sort = None,
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
        commune: Commune = None,
        lat: float | None = None,
        lon: float | None = None,
        radius_km: Radius = None,
        sort: Sort = None,
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
