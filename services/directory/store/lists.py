"""Lists of entries: visibility, filters and keyset pagination.

Pagination is keyset: by ``id`` (UUIDv7, creation order — new rows land after the last page, so
browsing never duplicates nor skips) or, for synchronisation with ``updated_since``, by
``(updated_at, id)`` (a row changed during the walk shows up again at the end, which is what a
synchronising client needs). Statements are built once per shape (which filters are present)
and the values bound at execution.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory import models as m
from services.directory.store import conditions
from services.directory.store.base import Entity, EntityT, owner_column
from services.directory.store.reads import service_view_statement
from services.kernel.db import UTCDateTime
from services.kernel.reference import expand_thematiques, geography


@dataclass(frozen=True)
class Reader:
    """Who reads, for visibility filters.

    ``moderator`` sees everything; ``structure_id`` (a member, or a client bound to it) also sees
    the drafts and suspended entries of that structure and of its sites (child structures).
    """

    moderator: bool = False
    structure_id: uuid.UUID | None = None


@dataclass
class ListQuery:
    """One page of a list and its filters; each present filter must hold.

    ``stale``: reviewed before ``stale_before`` (True) or since (False); ``verified``: confirmed
    at least once or never; ``capacity_before``: services whose capacity was last stated before
    it; ``link_states``: has at least one link ``dead`` or ``failing`` (failing links are the
    reader's to see only: insiders and moderators, ``domain.links``); ``network``: entries of the
    structures of that network."""

    limit: int = 50
    cursor: tuple[Any, ...] | None = None
    statuses: Sequence[str] = ("published",)
    structure_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    thematiques: Sequence[str] = ()
    commune: str | None = None
    updated_since: datetime | None = None
    network: str | None = None
    stale: bool | None = None
    stale_before: datetime | None = None
    verified: bool | None = None
    capacity_before: datetime | None = None
    link_states: Sequence[str] = ()

    @property
    def by_update(self) -> bool:
        return self.updated_since is not None


_PUBLIC = ("published", "archived")


@dataclass(frozen=True)
class _Shape:
    """What a list statement looks like (which filters are present), not the values: statements
    are built once per shape, the values are bound at execution."""

    model: type[Any]
    view: bool
    dialect: str
    moderator: bool
    public: bool
    private: bool
    structure: bool
    parent: bool
    updated_since: bool
    thematiques: bool
    commune: bool
    network: bool
    stale: bool | None
    verified: bool | None
    capacity: bool
    link_dead: bool
    # Failing links: "all" (moderator), "own" (the reader's structure and sites), "none".
    link_failing: str | None
    by_update: bool
    cursor: bool


def _page_parameters(
    session: AsyncSession, model: type[Entity], query: ListQuery, reader: Reader, *, view: bool
) -> tuple[_Shape, dict[str, Any]]:
    params: dict[str, Any] = {"limit": query.limit + 1}
    statuses = list(query.statuses)
    # Published and archived entries are public; other statuses need an insider.
    public = [s for s in statuses if s in _PUBLIC]
    private = [s for s in statuses if s not in _PUBLIC]
    if reader.moderator:
        params["statuses"] = statuses
    else:
        params["public"] = public
        if private and reader.structure_id is not None:
            params["private"] = private
            params["reader_structure"] = reader.structure_id
    if query.structure_id is not None:
        params["owner"] = query.structure_id
    parent = query.parent_id is not None and model is m.Structure
    if parent:
        params["parent"] = query.parent_id
    if query.updated_since is not None:
        params["updated_since"] = query.updated_since
    thematiques = bool(query.thematiques) and model is m.Service
    if thematiques:
        params["thematiques"] = sorted(expand_thematiques(query.thematiques))
    if query.commune is not None:
        params["commune"] = query.commune
        if model is m.Service:
            params["zones"] = sorted(geography().zones_of(query.commune))
    if query.network is not None:
        params["network"] = [query.network]
    if query.stale is not None:
        params["stale_before"] = query.stale_before
    capacity = query.capacity_before is not None and model is m.Service
    if capacity:
        params["capacity_before"] = query.capacity_before
    link_failing: str | None = None
    if "failing" in query.link_states:
        if reader.moderator:
            link_failing = "all"
        elif reader.structure_id is not None:
            link_failing = "own"
            params["reader_structure"] = reader.structure_id
        else:
            link_failing = "none"
    if query.cursor is not None:
        if query.by_update:
            params["cursor_at"], params["cursor_id"] = query.cursor
        else:
            params["cursor_id"] = query.cursor[0]
    shape = _Shape(
        model=model,
        view=view,
        dialect=session.get_bind().dialect.name,
        moderator=reader.moderator,
        public=bool(public),
        private="private" in params,
        structure="owner" in params,
        parent=parent,
        updated_since="updated_since" in params,
        thematiques=thematiques,
        commune="commune" in params,
        network="network" in params,
        stale=query.stale,
        verified=query.verified,
        capacity=capacity,
        link_dead="dead" in query.link_states,
        link_failing=link_failing,
        by_update=query.by_update,
        cursor=query.cursor is not None,
    )
    return shape, params


def _visible(model: type[Entity], shape: _Shape) -> Any:
    if shape.moderator:
        return model.status.in_(sa.bindparam("statuses", expanding=True))
    clauses: list[Any] = []
    if shape.public:
        clauses.append(model.status.in_(sa.bindparam("public", expanding=True)))
    if shape.private:
        clauses.append(
            sa.and_(
                model.status.in_(sa.bindparam("private", expanding=True)),
                owner_column(model).in_(conditions.own_sites()),
            )
        )
    if not clauses:
        return sa.false()
    return sa.or_(*clauses)


def _needs(model: type[Entity], shape: _Shape) -> list[Any]:
    """The review filters of a list (``ListQuery``), each one a condition."""
    wanted: list[Any] = []
    if shape.network:
        wanted.append(conditions.in_network(model, shape.dialect))
    if shape.stale is not None:
        wanted.append(conditions.stale(model, shape.stale))
    if shape.verified is not None:
        wanted.append(conditions.verified(model, shape.verified))
    if shape.capacity:
        wanted.append(conditions.capacity_unconfirmed())
    links: list[Any] = []
    if shape.link_dead:
        links.append(conditions.has_link(model, "dead"))
    if shape.link_failing == "all":
        links.append(conditions.has_link(model, "failing"))
    elif shape.link_failing == "own":
        links.append(
            sa.and_(
                conditions.has_link(model, "failing"),
                owner_column(model).in_(conditions.own_sites()),
            )
        )
    if shape.link_dead or shape.link_failing:
        wanted.append(sa.or_(*links) if links else sa.false())
    return wanted


@lru_cache(maxsize=256)
def _page_statement(shape: _Shape) -> sa.Select[Any]:
    """The statement of one page of a list (one row more than the page, to know whether another
    follows); built once per shape (building it cost more than running it)."""
    model: type[Entity] = shape.model
    stmt = service_view_statement() if shape.view else sa.select(model)
    stmt = stmt.where(_visible(model, shape))
    if shape.structure:
        stmt = stmt.where(owner_column(model) == sa.bindparam("owner", type_=sa.Uuid()))
    if shape.parent:
        stmt = stmt.where(m.Structure.parent_id == sa.bindparam("parent", type_=sa.Uuid()))
    if shape.updated_since:
        stmt = stmt.where(model.updated_at >= sa.bindparam("updated_since", type_=UTCDateTime()))
    if shape.thematiques:
        stmt = stmt.where(
            conditions.json_contains_any(shape.dialect, m.Service.thematiques, "thematiques")
        )
    if shape.commune:
        commune = sa.bindparam("commune", type_=sa.String())
        if model is m.Service:
            # A correlated scalar subquery (one primary-key probe per candidate row), not
            # ``id IN (…)`` / EXISTS: inside the OR, PostgreSQL hashes those, i.e. reads every
            # zone row matching the commune's département, région and "france" on each request.
            covered = (
                sa.select(sa.true())
                .where(
                    m.ServiceZone.service_id == m.Service.id,
                    m.ServiceZone.zone.in_(sa.bindparam("zones", expanding=True)),
                )
                .limit(1)
                .scalar_subquery()
            )
            stmt = stmt.where(sa.or_(m.Service.commune_code == commune, covered))
        else:
            stmt = stmt.where(model.commune_code == commune)
    for condition in _needs(model, shape):
        stmt = stmt.where(condition)
    cursor_id = sa.bindparam("cursor_id", type_=sa.Uuid())
    if shape.by_update:
        if shape.cursor:
            cursor_at = sa.bindparam("cursor_at", type_=UTCDateTime())
            stmt = stmt.where(
                sa.tuple_(model.updated_at, model.id) > sa.tuple_(cursor_at, cursor_id)
            )
        stmt = stmt.order_by(model.updated_at, model.id)
    else:
        if shape.cursor:
            stmt = stmt.where(model.id > cursor_id)
        stmt = stmt.order_by(model.id)
    return stmt.limit(sa.bindparam("limit", type_=sa.Integer()))


async def list_entities(
    session: AsyncSession, model: type[EntityT], query: ListQuery, reader: Reader
) -> tuple[list[EntityT], tuple[Any, ...] | None]:
    """One page and the keyset of its last row when more rows follow."""
    shape, params = _page_parameters(session, model, query, reader, view=False)
    rows = await session.scalars(_page_statement(shape), params)
    return _page(list(rows.all()), query)


async def list_service_views(
    session: AsyncSession, query: ListQuery, reader: Reader
) -> tuple[list[sa.Row[Any]], tuple[Any, ...] | None]:
    """``list_entities`` for services, as rows of ``service_view_statement`` (one statement per
    page)."""
    shape, params = _page_parameters(session, m.Service, query, reader, view=True)
    rows = await session.execute(_page_statement(shape), params)
    return _page(list(rows.all()), query)


RowT = TypeVar("RowT")


def _page(rows: list[RowT], query: ListQuery) -> tuple[list[RowT], tuple[Any, ...] | None]:
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    last: Any = rows[-1]
    return rows, ((last.updated_at, last.id) if query.by_update else (last.id,))
