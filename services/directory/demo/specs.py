"""The demo territory's data files, read into typed specs.

``data/services.toml`` holds the service templates (what a kind of structure typically offers,
in French) and which kind offers which; ``data/structures.toml`` the structures (who is where)
and the default description of each kind; ``data/communes.toml`` the approximate centre of each
commune they are in. The generator (``generator.py``) turns them into
data·inclusion rows; see the comments at the top of each file for the fields.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
DEFAULT_HOURS = "Mo-Fr 08:30-12:00,13:30-17:00; PH off"
# The demo territory is the Drôme.
DEPARTEMENT = "26"


@dataclass(frozen=True)
class ServiceSpec:
    key: str
    names: tuple[str, ...]
    descriptions: tuple[str, ...]
    type: str
    thematiques: tuple[str, ...]
    publics: tuple[str, ...] = ("tous-publics",)
    publics_details: str | None = None
    fees: str = "gratuit"
    fees_details: str | None = None
    conditions: str | None = None
    documents: tuple[str, ...] = ()
    reception: tuple[str, ...] = ("en-presentiel",)
    mobilisation: tuple[str, ...] = ("se-presenter", "telephoner")
    mobilisable_par: tuple[str, ...] = ("usagers", "professionnels")
    mobilisation_details: str | None = None
    # commune | epci | departement | france
    zone: str = "commune"
    # None: unknown, True: by appointment only, False: walk-in possible.
    appointment: bool | None = None
    # None: the structure's hours; a string: the service's own hours.
    hours: str | None = None
    booking_url: str | None = None
    referral_url: str | None = None
    weekly_hours: float | None = None
    weeks: int | None = None
    # May be full / on a waiting list in the demo (housing places, workshops…).
    limited: bool = False
    response_days: int | None = None


@dataclass(frozen=True)
class Offer:
    """A template a kind of structure offers, with how often (1.0: always)."""

    spec: ServiceSpec
    probability: float = 1.0


@dataclass(frozen=True)
class StructureSpec:
    key: str
    name: str
    kind: str
    commune: str
    typology: str
    networks: tuple[str, ...] = ()
    parent: str | None = None
    website: str | None = None
    hours: str | None = DEFAULT_HOURS
    extra: tuple[Offer, ...] = ()
    description: str | None = None
    complement: str | None = None


@dataclass(frozen=True)
class Catalogue:
    structures: tuple[StructureSpec, ...]
    # kind -> the templates it offers
    offers: dict[str, tuple[Offer, ...]]
    # kind -> default description ("{commune}" filled in)
    descriptions: dict[str, str]
    # INSEE code -> approximate (latitude, longitude) of the commune's centre
    coordinates: dict[str, tuple[float, float]]


def _frozen(cls: type[Any], table: dict[str, Any]) -> Any:
    """``cls`` from a TOML table: lists become tuples; unknown keys are an error."""
    known = {f.name for f in fields(cls)}
    unknown = set(table) - known
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})


def _read(name: str) -> dict[str, Any]:
    with (DATA / name).open("rb") as file:
        return tomllib.load(file)


@cache
def catalogue() -> Catalogue:
    services = _read("services.toml")
    templates: dict[str, ServiceSpec] = {}
    for table in services["template"]:
        template = dict(table)
        name = template.pop("id")
        templates[name] = _frozen(ServiceSpec, template)

    def offers(items: list[dict[str, Any]]) -> tuple[Offer, ...]:
        return tuple(Offer(templates[i["template"]], i.get("probability", 1.0)) for i in items)

    structures = _read("structures.toml")
    specs = []
    for table in structures["structure"]:
        spec = dict(table)
        spec["extra"] = offers(spec.get("extra", []))
        if spec.get("hours") == "":  # no fixed hours (an itinerant service)
            spec["hours"] = None
        specs.append(_frozen(StructureSpec, spec))
    return Catalogue(
        structures=tuple(specs),
        offers={kind: offers(items) for kind, items in services["offers"].items()},
        descriptions=dict(structures["descriptions"]),
        coordinates={
            code: (place["latitude"], place["longitude"])
            for code, place in _read("communes.toml")["communes"].items()
        },
    )
