"""SQL conditions shared by lists and review lists: visibility helpers and what an entry needs.

Each condition binds its values by name (``stale_before``, ``capacity_before``,
``reader_structure``, ``network``…) so a statement is built once per shape and reused; the
rules themselves (when an entry is stale, when a link is dead) are the domain's
(``domain.freshness``, ``domain.links``, ``domain.review``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from services.directory import models as m
from services.directory.store.base import LINKS, Entity, owner_column
from services.kernel.db import UTCDateTime


def own_sites(parameter: str = "reader_structure") -> Any:
    """Ids of the structure bound to ``parameter`` and of its sites (child structures). Never
    correlated: the outer statement may itself read ``structures`` (service views)."""
    structure = sa.bindparam(parameter, type_=sa.Uuid())
    return (
        sa.select(m.Structure.id)
        .where(sa.or_(m.Structure.id == structure, m.Structure.parent_id == structure))
        .correlate(None)
        .scalar_subquery()
    )


def json_contains_any(dialect: str, column: Any, name: str) -> Any:
    """``column`` (a JSON array of strings) contains at least one of the values bound to
    ``name`` (a list)."""
    if dialect == "postgresql":
        return column.op("?|")(sa.bindparam(name, type_=postgresql.ARRAY(sa.Text())))
    each = sa.func.json_each(column).table_valued("value")
    return sa.exists(
        sa.select(1).select_from(each).where(each.c.value.in_(sa.bindparam(name, expanding=True)))
    )


def in_network(model: type[Entity], dialect: str) -> Any:
    """Entries of structures that belong to the network bound to ``network`` (a one-item list)."""
    if model is m.Structure:
        return json_contains_any(dialect, m.Structure.networks, "network")
    members = (
        sa.select(m.Structure.id)
        .where(json_contains_any(dialect, m.Structure.networks, "network"))
        .correlate(None)
        .scalar_subquery()
    )
    return owner_column(model).in_(members)


def stale(model: type[Entity], wanted: bool = True) -> Any:
    """Last reviewed before ``stale_before`` (or never), or (``wanted`` False) since then."""
    before = sa.bindparam("stale_before", type_=UTCDateTime())
    if wanted:
        return sa.or_(model.reviewed_at.is_(None), model.reviewed_at < before)
    return model.reviewed_at >= before


def verified(model: type[Entity], wanted: bool = True) -> Any:
    """Confirmed at least once (``POST …/verify``), or (``wanted`` False) never."""
    return model.verified_at.is_not(None) if wanted else model.verified_at.is_(None)


def capacity_unconfirmed() -> Any:
    """Services whose capacity was last stated before ``capacity_before`` (or never)."""
    before = sa.bindparam("capacity_before", type_=UTCDateTime())
    return sa.or_(
        m.Service.capacity_confirmed_at.is_(None), m.Service.capacity_confirmed_at < before
    )


def has_link(model: type[Entity], state: str) -> Any:
    """Has a link in ``state``: ``dead``, or ``failing`` (failed lately, not dead yet)."""
    wanted: Any
    if state == "dead":
        wanted = LINKS.c.dead.is_(True)
    else:
        wanted = sa.and_(LINKS.c.consecutive_failures > 0, LINKS.c.dead.is_(False))
    return sa.exists().where(LINKS.c.entity_id == model.id, wanted)
