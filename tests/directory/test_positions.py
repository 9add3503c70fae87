"""Where an entry is for distances (pure rules of ``domain.positions``)."""

from __future__ import annotations

from services.directory.domain.positions import (
    Located,
    entry_position,
    remote_only,
    service_position,
)
from services.kernel.reference import geography

LORIOL, LIVRON, CELLES = "26166", "26165", "15031"


def _reference(code: str) -> Located:
    point = geography().position(code)
    assert point is not None
    return Located(point.latitude, point.longitude, "commune")


def test_own_coordinates_then_the_commune_reference_point() -> None:
    assert entry_position(44.7, 4.8, LORIOL) == Located(44.7, 4.8, "address")
    assert entry_position(None, None, LORIOL) == _reference(LORIOL)
    assert entry_position(44.7, None, LORIOL) == _reference(LORIOL)  # half a position is none
    assert entry_position(None, None, CELLES) is None  # no reference point: nothing invented
    assert entry_position(None, None, None) is None
    assert entry_position(None, None, "00000") is None


def test_a_service_is_at_its_own_address_else_its_structure() -> None:
    structure = (44.75, 4.81, LORIOL)
    assert service_position(45.0, 5.0, LIVRON, *structure) == Located(45.0, 5.0, "address")
    # Same commune as its structure, or none of its own: at the structure's address.
    assert service_position(None, None, LORIOL, *structure) == Located(44.75, 4.81, "address")
    assert service_position(None, None, None, *structure) == Located(44.75, 4.81, "address")
    # In another commune without coordinates: that commune's point, not the structure's address.
    assert service_position(None, None, LIVRON, *structure) == _reference(LIVRON)
    # Its own commune has no reference point: the structure's position still holds.
    assert service_position(None, None, CELLES, *structure) == Located(44.75, 4.81, "address")
    # Neither has coordinates: the commune's point.
    assert service_position(None, None, None, None, None, LORIOL) == _reference(LORIOL)
    assert service_position(None, None, None, None, None, None) is None


def test_remote_only_means_no_on_site_reception() -> None:
    assert remote_only(["a-distance"])
    assert not remote_only(["a-distance", "en-presentiel"])
    assert not remote_only(["en-presentiel"])
    assert not remote_only([])
    assert not remote_only(None)
