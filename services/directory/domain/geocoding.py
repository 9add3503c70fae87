"""What the geocoder is asked for an entry's address, and which of its answers is believed (pure).

The geocoder is the Base Adresse Nationale's search API (``/search/?q=…&citycode=…&limit=1``,
a GeoJSON FeatureCollection; see ``services.directory.geocoding``). Its best result is believed
only when all of these hold:

- it is in the entry's commune: its ``citycode`` is the entry's INSEE code, or one of its
  arrondissements municipaux (the BAN gives Paris, Lyon and Marseille addresses their
  arrondissement's code: for those communes the query is not filtered on the commune's code,
  which the BAN would not match). The query filters on the code otherwise, but a geocoder that
  ignores the filter must not move an entry elsewhere;
- it is finer than the commune: a ``housenumber``, a ``street`` or a ``locality`` (lieu-dit),
  never a ``municipality`` (the commune's reference point already says that much);
- its ``score`` (0 to 1, how well the result matches the query) reaches ``GEOCODER_MIN_SCORE``;
- its coordinates are a point on Earth.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import msgspec

from services.kernel.reference import geography

# BAN result types precise enough to place an entry better than its commune's reference point.
ACCEPTED_TYPES = frozenset({"housenumber", "street", "locality"})
# The BAN refuses longer queries (and those under 3 characters).
MAX_QUERY_CHARS = 200
MIN_QUERY_CHARS = 3


@dataclass(frozen=True, order=True)
class Query:
    """One geocoder request: the address as text, filtered on the INSEE commune code."""

    text: str
    citycode: str

    def params(self) -> dict[str, str]:
        """The request's query string (one result: the best)."""
        if self.citycode in _with_arrondissements():
            return {"q": self.text, "limit": "1"}
        return {"q": self.text, "citycode": self.citycode, "limit": "1"}


ARRONDISSEMENT = "arrondissement-municipal"


@cache
def _with_arrondissements() -> frozenset[str]:
    return frozenset(
        c.parent for c in geography().communes.values() if c.type == ARRONDISSEMENT and c.parent
    )


def in_commune(citycode: str | None, commune_code: str) -> bool:
    """Whether a result's ``citycode`` is the commune or one of its arrondissements."""
    if not citycode:
        return False
    if citycode == commune_code:
        return True
    found = geography().commune(citycode)
    return found is not None and found.type == ARRONDISSEMENT and found.parent == commune_code


def query_of(
    address: str | None, postal_code: str | None, commune_code: str | None, commune: str | None
) -> Query | None:
    """The query for an address (``domain.positions.GEOCODED_FROM``); None when there is
    nothing to look up (no street address, or no INSEE code to check the answer against)."""
    street = " ".join((address or "").split())
    code = (commune_code or "").strip()
    if len(street) < MIN_QUERY_CHARS or not code:
        return None
    town = " ".join(part for part in ((postal_code or "").strip(), (commune or "").strip()) if part)
    text = f"{street} {town}" if town else street
    if len(text) > MAX_QUERY_CHARS:
        text = street[:MAX_QUERY_CHARS]
    return Query(text.strip(), code)


# --- the BAN answer (GeoJSON), as far as it is read: unknown members are ignored -----------------


class Properties(msgspec.Struct):
    score: float = 0.0
    type: str = ""
    citycode: str | None = None
    label: str = ""


class Geometry(msgspec.Struct):
    coordinates: list[float] = []


class Feature(msgspec.Struct):
    properties: Properties
    geometry: Geometry | None = None


class FeatureCollection(msgspec.Struct):
    features: list[Feature] = []


@dataclass(frozen=True)
class Found:
    latitude: float
    longitude: float
    score: float
    type: str
    label: str


@dataclass(frozen=True)
class NotFound:
    """The geocoder answered, with nothing good enough (``reason``)."""

    reason: str


def judge(answer: FeatureCollection, query: Query, min_score: float) -> Found | NotFound:
    """The best result of an answer, if it is believed (module docstring)."""
    if not answer.features:
        return NotFound("no_result")
    best = answer.features[0]
    props = best.properties
    if not in_commune(props.citycode, query.citycode):
        return NotFound("other_commune")
    if props.type not in ACCEPTED_TYPES:
        return NotFound("commune_only")
    if props.score < min_score:
        return NotFound("low_score")
    coordinates = best.geometry.coordinates if best.geometry is not None else []
    if len(coordinates) < 2:
        return NotFound("no_point")
    longitude, latitude = coordinates[0], coordinates[1]
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return NotFound("no_point")
    return Found(latitude, longitude, props.score, props.type, props.label)
