"""Reference lookups: data·inclusion taxonomies and French communes (COG)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from services.directory import render
from services.directory import schemas as s
from services.directory.api import _common as c
from services.kernel.problems import ProblemError, query_error
from services.kernel.reference import TAXONOMY_NAMES, Commune, geography, taxonomy


def _commune(commune: Commune) -> s.CommuneRead:
    geo = geography()
    current = geo.current(commune)
    epci_code = commune.epci or current.epci
    epci = geo.epcis.get(epci_code) if epci_code else None
    departement = geo.departements.get(commune.departement)
    region = geo.regions.get(commune.region)
    return s.CommuneRead(
        code=commune.code,
        name=commune.name,
        type=commune.type,
        postal_codes=list(commune.postal_codes),
        departement=s.Area(code=commune.departement, name=departement.name if departement else ""),
        region=s.Area(code=commune.region, name=region.name if region else ""),
        epci=s.Area(code=epci.code, name=epci.name) if epci else None,
        population=commune.population,
        position=render.position({"commune_code": commune.code}),
        zones=sorted(geo.zones_of(commune.code)),
    )


class ReferenceController(Controller):
    path = c.PREFIX
    tags = ["référentiels"]  # noqa: RUF012

    @get(
        "/taxonomies",
        operation_id="ListTaxonomies",
        summary="Taxonomies data·inclusion",
        sync_to_thread=False,
        cache=3600,
    )
    def list_taxonomies(self) -> list[s.TaxonomySummary]:
        return [
            s.TaxonomySummary(
                name=name, count=len(taxonomy(name).terms), url=f"{c.PREFIX}/taxonomies/{name}"
            )
            for name in TAXONOMY_NAMES
        ]

    @get(
        "/taxonomies/{name:str}",
        operation_id="GetTaxonomy",
        summary="Valeurs d'une taxonomie",
        sync_to_thread=False,
        cache=3600,
    )
    def get_taxonomy(self, name: str) -> s.TaxonomyRead:
        if name not in TAXONOMY_NAMES:
            raise ProblemError(
                404, f"Taxonomie inconnue. Taxonomies disponibles : {', '.join(TAXONOMY_NAMES)}."
            )
        return s.TaxonomyRead(name=name, terms=list(taxonomy(name).terms))

    @get(
        "/communes/{code:str}",
        operation_id="GetCommune",
        summary="Commune par code INSEE ou code postal",
        sync_to_thread=False,
    )
    def get_commune(self, code: str) -> list[s.CommuneRead]:
        """Un code INSEE donne une commune ; un code postal peut en donner plusieurs."""
        found = geography().resolve(code.strip())
        if not found:
            raise ProblemError(404, "Aucune commune pour ce code INSEE ou code postal.")
        return [_commune(x) for x in found]

    @get(
        "/communes",
        operation_id="SearchCommunes",
        summary="Rechercher une commune (nom ou début de code postal)",
        sync_to_thread=False,
    )
    def search_communes(
        self,
        q: Annotated[str, Parameter(min_length=1, max_length=100, description="nom ou code")],
        limit: Annotated[int, Parameter(ge=1, le=50)] = 20,
    ) -> list[s.CommuneRead]:
        if not q.strip():
            raise query_error("q", "texte de recherche vide")
        return [_commune(x) for x in geography().search(q, limit=limit)]
