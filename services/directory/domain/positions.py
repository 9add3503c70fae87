"""Where an entry is, for distances: its own coordinates, else its commune's reference point.

- ``address``: coordinates the entry holds (typed by its maintainers or given by its source);
- ``geocoded``: no coordinates of its own, but the geocoder (``services.directory.geocoding``,
  off unless ``GEOCODER_URL`` is set) found its address: the position of that address (house
  number, else street or lieu-dit), computed by Relais — address-level, not given by anyone;
- ``commune``: the entry has an INSEE code but neither (most imports, and every entry while the
  geocoder is off or has not found the address): the commune's reference position (« centre de
  la commune », ``geography().position``), approximate — a distance from it ranks nearby
  services, it does not route anyone.

A geocoded position belongs to the address it was found for: a write that changes one of
``GEOCODED_FROM`` voids it (``GEOCODE_VOID``) and the geocoder's job looks the new address up.

A service without an address of its own is at its structure's. A service received only remotely
(« à distance », not « en présentiel ») is not *near* anyone: it has a position (its structure's)
but no distance; a search sorted by distance puts it after the located entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from services.kernel.reference import geography

Precision = Literal["address", "geocoded", "commune"]
REMOTE_MODE = "a-distance"
ON_SITE_MODE = "en-presentiel"

# The address fields the geocoder reads (``geocoding.query_of``); the columns it writes, all
# cleared when one of those fields changes (``voids_geocode``): "not looked up yet".
GEOCODED_FROM = frozenset({"address", "postal_code", "commune_code", "commune"})
GEOCODE_VOID: dict[str, None] = {
    "geocoded_latitude": None,
    "geocoded_longitude": None,
    "geocoded_at": None,
}


def voids_geocode(changed: Iterable[str]) -> bool:
    """Whether a write changing these fields makes the entry's geocoded position stale."""
    return not GEOCODED_FROM.isdisjoint(changed)


@dataclass(frozen=True)
class Located:
    latitude: float
    longitude: float
    precision: Precision


def entry_position(
    latitude: float | None,
    longitude: float | None,
    commune_code: str | None,
    geocoded_latitude: float | None = None,
    geocoded_longitude: float | None = None,
) -> Located | None:
    """An entry's own coordinates, else its address's geocoded position, else its commune's
    reference position, else None."""
    if latitude is not None and longitude is not None:
        return Located(latitude, longitude, "address")
    if geocoded_latitude is not None and geocoded_longitude is not None:
        return Located(geocoded_latitude, geocoded_longitude, "geocoded")
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
    *,
    geocoded: tuple[float | None, float | None] = (None, None),
    structure_geocoded: tuple[float | None, float | None] = (None, None),
) -> Located | None:
    """A service's own coordinates, else its own address's geocoded position (``geocoded``:
    latitude, longitude); else, when it is in another commune than its structure, that
    commune's reference position; else its structure's position."""
    if latitude is not None and longitude is not None:
        return Located(latitude, longitude, "address")
    if geocoded[0] is not None and geocoded[1] is not None:
        return Located(geocoded[0], geocoded[1], "geocoded")
    if commune_code and commune_code != structure_commune_code:
        own = entry_position(None, None, commune_code)
        if own is not None:
            return own
    return entry_position(
        structure_latitude,
        structure_longitude,
        structure_commune_code or commune_code,
        *structure_geocoded,
    )


def service_row_position(
    get: Callable[[str], Any], *, commune_column: str = "commune_code"
) -> Located | None:
    """``service_position`` of a row named as a service's reads name it: its own ``latitude``,
    ``longitude``, commune, ``geocoded_latitude`` and ``geocoded_longitude``, and its
    structure's, each prefixed ``structure_``; ``get`` reads a column by name."""
    return service_position(
        get("latitude"),
        get("longitude"),
        get(commune_column),
        get("structure_latitude"),
        get("structure_longitude"),
        get("structure_commune_code"),
        geocoded=(get("geocoded_latitude"), get("geocoded_longitude")),
        structure_geocoded=(
            get("structure_geocoded_latitude"),
            get("structure_geocoded_longitude"),
        ),
    )


def remote_only(reception_modes: Iterable[str] | None) -> bool:
    """Received only at a distance (by phone or online): no place to go to."""
    modes = set(reception_modes or ())
    return REMOTE_MODE in modes and ON_SITE_MODE not in modes
