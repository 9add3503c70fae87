"""data·inclusion v1 taxonomies as data (values are the slugs that go into the API)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import msgspec

DATA = Path(__file__).parent / "data" / "taxonomies"

# Public taxonomy name -> file shipped in data/taxonomies.
TAXONOMY_NAMES: dict[str, str] = {
    "thematiques": "thematiques.json",
    "categories-thematiques": "categories-thematiques.json",
    "publics": "publics.json",
    "types-de-services": "types-de-services.json",
    "frais": "frais.json",
    "modes-accueil": "modes-accueil.json",
    "modes-mobilisation": "modes-mobilisation.json",
    "personnes-mobilisatrices": "personnes-mobilisatrices.json",
    "reseaux-porteurs": "reseaux-porteurs.json",
    "typologies-de-structures": "typologies-de-structures.json",
    "typologies-de-services": "typologies-de-services.json",
}

CATEGORY_SEPARATOR = "--"


class Term(msgspec.Struct, frozen=True):
    value: str
    label: str
    description: str | None = None


class Taxonomy(msgspec.Struct, frozen=True):
    name: str
    terms: tuple[Term, ...]

    @property
    def values(self) -> frozenset[str]:
        return _values(self.name)

    def unknown(self, values: Iterable[str]) -> list[str]:
        known = self.values
        return [v for v in values if v not in known]

    def label(self, value: str) -> str | None:
        for term in self.terms:
            if term.value == value:
                return term.label
        return None


@cache
def taxonomy(name: str) -> Taxonomy:
    try:
        file_name = TAXONOMY_NAMES[name]
    except KeyError:
        raise KeyError(f"unknown taxonomy {name!r}") from None
    terms = msgspec.json.decode((DATA / file_name).read_bytes(), type=tuple[Term, ...])
    return Taxonomy(name=name, terms=terms)


@cache
def _values(name: str) -> frozenset[str]:
    return frozenset(t.value for t in taxonomy(name).terms)


def thematique_categories() -> tuple[Term, ...]:
    return taxonomy("categories-thematiques").terms


def category_of(thematique: str) -> str:
    return thematique.split(CATEGORY_SEPARATOR, 1)[0]


def expand_thematiques(values: Iterable[str]) -> set[str]:
    """A category stands for all its sub-thematiques; a sub-thematique for itself."""
    categories = {t.value for t in thematique_categories()}
    expanded: set[str] = set()
    all_values = taxonomy("thematiques").values
    for value in values:
        if value in categories:
            expanded |= {v for v in all_values if category_of(v) == value}
        else:
            expanded.add(value)
    return expanded
