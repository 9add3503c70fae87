"""Review lists: the structures and services of a scope that need a maintainer's attention.

A scope is a structure with its sites, or a network. One statement reads both kinds, keeps the
entries (not archived) that meet at least one wanted reason, and pages them by id (UUIDv7:
unique across both tables, so one keyset covers the union). The reasons of each row are then
named by the domain (``domain.review``) from the row and its link states.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory import models as m
from services.directory.domain.review import Reason, Thresholds
from services.directory.store import conditions
from services.directory.store.base import Entity, owner_column
from services.kernel.db import UTCDateTime


@dataclass(frozen=True)
class Scope:
    """Whose entries: a structure and its sites, or the structures of a network."""

    structure_id: uuid.UUID | None = None
    network: str | None = None


def _wanted(model: type[Entity], reasons: Sequence[Reason]) -> Any:
    clauses: list[Any] = []
    if "stale" in reasons:
        clauses.append(conditions.stale(model))
    if "never_verified" in reasons:
        clauses.append(conditions.verified(model, wanted=False))
    if "link_dead" in reasons:
        clauses.append(conditions.has_link(model, "dead"))
    if "link_failing" in reasons:
        clauses.append(conditions.has_link(model, "failing"))
    if "capacity_unconfirmed" in reasons and model is m.Service:
        clauses.append(conditions.capacity_unconfirmed())
    return sa.or_(*clauses) if clauses else sa.false()


def _part(model: type[Entity], scope: Scope, reasons: Sequence[Reason], dialect: str) -> Any:
    service = model is m.Service
    in_scope = (
        owner_column(model).in_(conditions.own_sites("scope_structure"))
        if scope.structure_id is not None
        else conditions.in_network(model, dialect)
    )
    return sa.select(
        sa.literal("service" if service else "structure").label("entity_type"),
        model.id.label("id"),
        owner_column(model).label("structure_id"),
        model.name.label("name"),
        model.status.label("status"),
        model.reviewed_at.label("reviewed_at"),
        model.verified_at.label("verified_at"),
        (m.Service.capacity_status if service else sa.type_coerce(sa.null(), sa.String())).label(
            "capacity_status"
        ),
        (
            m.Service.capacity_confirmed_at if service else sa.type_coerce(sa.null(), UTCDateTime())
        ).label("capacity_confirmed_at"),
    ).where(in_scope, model.status != "archived", _wanted(model, reasons))


async def entries_to_review(
    session: AsyncSession,
    scope: Scope,
    reasons: Sequence[Reason],
    thresholds: Thresholds,
    *,
    limit: int,
    after: uuid.UUID | None,
) -> tuple[list[sa.Row[Any]], uuid.UUID | None]:
    """One page of entries needing at least one of ``reasons``, and the id to continue after
    when more follow."""
    dialect = session.get_bind().dialect.name
    union = sa.union_all(
        _part(m.Structure, scope, reasons, dialect), _part(m.Service, scope, reasons, dialect)
    ).subquery()
    statement = sa.select(union).order_by(union.c.id).limit(limit + 1)
    if after is not None:
        statement = statement.where(union.c.id > after)
    params: dict[str, Any] = {
        "stale_before": thresholds.stale_before,
        "capacity_before": thresholds.capacity_before,
    }
    if scope.structure_id is not None:
        params["scope_structure"] = scope.structure_id
    else:
        params["network"] = [scope.network]
    rows = list((await session.execute(statement, params)).all())
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], rows[limit - 1].id
