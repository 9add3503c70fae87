"""What every part of the directory's store shares: the entry types and their tables."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa

from services.directory import models as m

Entity = m.Structure | m.Service | m.Place
EntityT = TypeVar("EntityT", m.Structure, m.Service, m.Place)

ENTITY_TYPES: dict[type[Any], str] = {
    m.Structure: "structure",
    m.Service: "service",
    m.Place: "place",
}

SERVICES: sa.Table = m.Service.__table__  # type: ignore[assignment]
STRUCTURES: sa.Table = m.Structure.__table__  # type: ignore[assignment]
ZONES: sa.Table = m.ServiceZone.__table__  # type: ignore[assignment]
SESSIONS: sa.Table = m.ServiceSession.__table__  # type: ignore[assignment]
LINKS: sa.Table = m.LinkCheck.__table__  # type: ignore[assignment]


def owner_column(model: type[Entity]) -> Any:
    """The column naming the structure an entry belongs to (a structure's own id)."""
    return m.Structure.id if model is m.Structure else model.structure_id  # type: ignore[union-attr]
