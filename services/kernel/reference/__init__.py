"""Shared reference data: data·inclusion taxonomies and French administrative geography.

Loaded lazily from the files shipped in ``data/`` (see its README for sources and licences).
"""

from services.kernel.reference.geography import Commune, Geography, Point, geography
from services.kernel.reference.taxonomies import (
    TAXONOMY_NAMES,
    Taxonomy,
    Term,
    expand_thematiques,
    taxonomy,
    thematique_categories,
)

__all__ = [
    "TAXONOMY_NAMES",
    "Commune",
    "Geography",
    "Point",
    "Taxonomy",
    "Term",
    "expand_thematiques",
    "geography",
    "taxonomy",
    "thematique_categories",
]
