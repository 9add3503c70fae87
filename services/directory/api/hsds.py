"""HSDS 3.1 read-only view of the public directory (Open Referral), under ``/directory/hsds``.

Paths and parameters follow the HSDS API reference: ``/`` (metadata), ``/services``,
``/services/{id}``, ``/organizations``, ``/organizations/{id}``, ``/locations``,
``/locations/{id}``, ``/service_at_locations``, ``/service_at_locations/{id}``, ``/taxonomies``,
``/taxonomies/{id}``, ``/taxonomy_terms``, ``/taxonomy_terms/{id}``; lists take ``page`` and
``per_page`` (HSDS page envelope), and ``search``, ``taxonomy_term_id``, ``organization_id``,
``modified_after`` where HSDS defines them. Anonymous; only published entries appear.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory import hsds_view as view
from services.directory.interop import hsds
from services.kernel.pagination import MAX_LIMIT
from services.kernel.problems import ProblemError, query_error
from services.kernel.settings import Settings

# Offset paging reads and skips (page - 1) × per_page rows: past this page there is nothing to
# read in any directory, and the offset stays far within what the database accepts.
MAX_PAGE = 1_000_000
Page = Annotated[int, Parameter(ge=1, le=MAX_PAGE, description=f"numéro de page (1 à {MAX_PAGE})")]
PerPage = Annotated[
    int, Parameter(ge=1, le=MAX_LIMIT, description=f"éléments par page (1 à {MAX_LIMIT})")
]
Search = Annotated[str | None, Parameter(description="texte cherché dans le nom et la description")]
TermId = Annotated[
    str | None,
    Parameter(
        description="identifiant HSDS d'un terme (ou « taxonomie:code », ex. publics:jeunes)"
    ),
]
OrganizationId = Annotated[uuid.UUID | None, Parameter(description="identifiant de l'organisation")]
ModifiedAfter = Annotated[
    str | None, Parameter(description="modifiés à partir de cette date (RFC 3339 ou AAAA-MM-JJ)")
]


def _not_found(what: str) -> ProblemError:
    return ProblemError(404, f"{what} introuvable.")


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _not_found(what) from None


def _filters(
    page: int,
    per_page: int,
    search: str | None = None,
    taxonomy_term_id: str | None = None,
    organization_id: uuid.UUID | None = None,
    modified_after: str | None = None,
) -> view.Filters:
    f = view.Filters(page=page, per_page=per_page, search=(search or "").strip() or None)
    if taxonomy_term_id:
        f.term = hsds.find_term(taxonomy_term_id.strip())
        if f.term is None:
            raise query_error("taxonomy_term_id", "terme de taxonomie inconnu")
    f.organization_id = organization_id
    if modified_after:
        f.modified_after = _instant(modified_after)
    return f


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            value = datetime.combine(date.fromisoformat(text.strip()), datetime.min.time())
        except ValueError:
            raise query_error("modified_after", "date attendue (RFC 3339 ou AAAA-MM-JJ)") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class HsdsController(Controller):
    path = "/directory/hsds"
    tags = ["hsds"]  # noqa: RUF012

    @get(["/", ""], operation_id="HsdsRoot", summary="HSDS : métadonnées de l'API")
    async def root(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Version HSDS, profil et adresse du document OpenAPI."""
        settings: Settings = request.app.state.settings
        return hsds.root(settings.base_url)

    @get("/services", operation_id="HsdsListServices", summary="HSDS : services")
    async def services(
        self,
        session: AsyncSession,
        page: Page = 1,
        per_page: PerPage = 50,
        search: Search = None,
        taxonomy_term_id: TermId = None,
        organization_id: OrganizationId = None,
        modified_after: ModifiedAfter = None,
    ) -> dict[str, Any]:
        """Services publiés (champs un-à-un), enveloppe de page HSDS."""
        f = _filters(page, per_page, search, taxonomy_term_id, organization_id, modified_after)
        return await view.list_services(session, f)

    @get("/services/{service_id:str}", operation_id="HsdsGetService", summary="HSDS : un service")
    async def service(self, session: AsyncSession, service_id: str) -> dict[str, Any]:
        """Service complet : organisation, zones, attributs, lieux, horaires, documents."""
        found = await view.get_service(session, _uuid(service_id, "Service"))
        if found is None:
            raise _not_found("Service")
        return found

    @get("/organizations", operation_id="HsdsListOrganizations", summary="HSDS : organisations")
    async def organizations(
        self,
        session: AsyncSession,
        page: Page = 1,
        per_page: PerPage = 50,
        search: Search = None,
        taxonomy_term_id: TermId = None,
    ) -> dict[str, Any]:
        """Structures publiées, enveloppe de page HSDS."""
        f = _filters(page, per_page, search, taxonomy_term_id)
        return await view.list_organizations(session, f)

    @get(
        "/organizations/{organization_id:str}",
        operation_id="HsdsGetOrganization",
        summary="HSDS : une organisation",
    )
    async def organization(self, session: AsyncSession, organization_id: str) -> dict[str, Any]:
        """Organisation complète, avec ses lieux et la liste de ses services."""
        found = await view.get_organization(session, _uuid(organization_id, "Organisation"))
        if found is None:
            raise _not_found("Organisation")
        return found

    @get("/locations", operation_id="HsdsListLocations", summary="HSDS : lieux")
    async def locations(
        self,
        session: AsyncSession,
        page: Page = 1,
        per_page: PerPage = 50,
        organization_id: OrganizationId = None,
    ) -> dict[str, Any]:
        """Lieux d'accueil, adresses des structures et des services qui ont la leur."""
        f = _filters(page, per_page, organization_id=organization_id)
        return await view.list_locations(session, f)

    @get("/locations/{location_id:str}", operation_id="HsdsGetLocation", summary="HSDS : un lieu")
    async def location(self, session: AsyncSession, location_id: str) -> dict[str, Any]:
        """Lieu complet : adresse, horaires, accessibilité."""
        found = await view.get_location(session, _uuid(location_id, "Lieu"))
        if found is None:
            raise _not_found("Lieu")
        return found

    @get(
        "/service_at_locations",
        operation_id="HsdsListServiceAtLocations",
        summary="HSDS : services par lieu",
    )
    async def service_at_locations(
        self,
        session: AsyncSession,
        page: Page = 1,
        per_page: PerPage = 50,
        search: Search = None,
        taxonomy_term_id: TermId = None,
        organization_id: OrganizationId = None,
        modified_after: ModifiedAfter = None,
    ) -> dict[str, Any]:
        """Où chaque service est rendu : permanences et adresse principale."""
        f = _filters(page, per_page, search, taxonomy_term_id, organization_id, modified_after)
        return await view.list_service_at_locations(session, f)

    @get(
        "/service_at_locations/{sal_id:str}",
        operation_id="HsdsGetServiceAtLocation",
        summary="HSDS : un service en un lieu",
    )
    async def service_at_location(self, session: AsyncSession, sal_id: str) -> dict[str, Any]:
        """Service en un lieu, avec le lieu et ses horaires."""
        found = await view.get_service_at_location(session, _uuid(sal_id, "Service en un lieu"))
        if found is None:
            raise _not_found("Service en un lieu")
        return found

    @get("/taxonomies", operation_id="HsdsListTaxonomies", summary="HSDS : taxonomies")
    async def taxonomies(
        self, page: Page = 1, per_page: PerPage = 50, search: Search = None
    ) -> dict[str, Any]:
        """Référentiels data·inclusion exposés comme taxonomies HSDS."""
        f = _filters(page, per_page, search)
        items = [hsds.hsds_taxonomy(name) for name in hsds.TAXONOMIES]
        if f.search:
            needle = f.search.lower()
            items = [t for t in items if needle in t["name"] or needle in t["description"].lower()]
        return _slice(items, f)

    @get(
        "/taxonomies/{taxonomy_id:str}",
        operation_id="HsdsGetTaxonomy",
        summary="HSDS : une taxonomie",
    )
    async def taxonomy(self, taxonomy_id: str) -> dict[str, Any]:
        for name in hsds.TAXONOMIES:
            if hsds.taxonomy_id(name) == taxonomy_id.lower() or name == taxonomy_id:
                return hsds.hsds_taxonomy(name)
        raise _not_found("Taxonomie")

    @get("/taxonomy_terms", operation_id="HsdsListTaxonomyTerms", summary="HSDS : termes")
    async def taxonomy_terms(
        self,
        page: Page = 1,
        per_page: PerPage = 50,
        search: Search = None,
        taxonomy_id: Annotated[
            str | None, Parameter(description="identifiant (ou nom) de la taxonomie")
        ] = None,
        parent_id: Annotated[str | None, Parameter(description="terme parent")] = None,
        top_only: Annotated[bool, Parameter(description="termes de premier niveau seulement")] = (
            False
        ),
    ) -> dict[str, Any]:
        """Termes des référentiels (thématiques : catégories puis sous-thématiques)."""
        f = _filters(page, per_page, search)
        items = list(hsds.taxonomy_terms())
        if taxonomy_id:
            wanted = taxonomy_id.lower()
            items = [t for t in items if wanted in (t["taxonomy_id"], t["taxonomy"])]
        if parent_id:
            items = [t for t in items if t.get("parent_id") == parent_id.lower()]
        if top_only:
            items = [t for t in items if "parent_id" not in t]
        if f.search:
            needle = f.search.lower()
            items = [t for t in items if needle in t["name"].lower() or needle in t["code"]]
        return _slice(items, f)

    @get(
        "/taxonomy_terms/{term_id:str}",
        operation_id="HsdsGetTaxonomyTerm",
        summary="HSDS : un terme",
    )
    async def taxonomy_term(self, term_id: str) -> dict[str, Any]:
        found = hsds.find_term(term_id)
        if found is None:
            raise _not_found("Terme")
        return {**found, "taxonomy_detail": hsds.hsds_taxonomy(found["taxonomy"])}


def _slice(items: list[dict[str, Any]], f: view.Filters) -> dict[str, Any]:
    start = (f.page - 1) * f.per_page
    return hsds.page_envelope(
        items[start : start + f.per_page], total=len(items), page=f.page, per_page=f.per_page
    )
