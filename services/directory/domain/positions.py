"""Where an entry is, for distances: its own coordinates, else its commune's reference point.

- ``address``: coordinates the entry holds (typed by its maintainers or given by its source);
- ``commune``: the entry has an INSEE code but no coordinates (most imports): the commune's
  reference position (« centre de la commune », ``geography().position``), approximate — a
  distance from it ranks nearby services, it does not route anyone.

A service without an address of its own is at its structure's. A service received only remotely
(« à distance », not « en présentiel ») is not *near* anyone: it has a position (its structure's)
but no distance; a search sorted by distance puts it after the located entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from services.kernel.reference import geography

Precision = Literal["address", "commune"]
REMOTE_MODE = "a-distance"
ON_SITE_MODE = "en-presentiel"


@dataclass(frozen=True)
class Located:
    latitude: float
    longitude: float
    precision: Precision


def entry_position(
    latitude: float | None, longitude: float | None, commune_code: str | None
) -> Located | None:
    """An entry's own coordinates, else its commune's reference position, else None."""
    if latitude is not None and longitude is not None:
        return Located(latitude, longitude, "address")
    point = geography().position(commune_code)
    if point is None:
        return None
    return Located(point.latitude, point.longitude, "commune")


def service_position(
    latitude: float | None,
    longitude: float | None,
    commune_code: str | None,
    structure_latitude: float | None,
    structure_longitude: float | None,
    structure_commune_code: str | None,
) -> Located | None:
    """A service's own coordinates; else, when it is in another commune than its structure,
    that commune's reference position; else its structure's position."""
    if latitude is not None and longitude is not None:
        return Located(latitude, longitude, "address")
    if commune_code and commune_code != structure_commune_code:
        own = entry_position(None, None, commune_code)
        if own is not None:
            return own
    return entry_position(
        structure_latitude, structure_longitude, structure_commune_code or commune_code
    )


def remote_only(reception_modes: Iterable[str] | None) -> bool:
    """Received only at a distance (by phone or online): no place to go to."""
    modes = set(reception_modes or ())
    return REMOTE_MODE in modes and ON_SITE_MODE not in modes
