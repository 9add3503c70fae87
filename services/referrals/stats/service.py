"""Loading anonymous facts for statistics (no personal column is read) and rendering them."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx
import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.http import ServiceLocator
from services.kernel.problems import ProblemError
from services.referrals import models as m
from services.referrals.directory import unavailable
from services.referrals.domain import stats as domain

GroupBy = Literal["none", "structure", "service", "territory"]
NO_SERVICE = "sans-service"
UNKNOWN_TERRITORY = "inconnu"

DELAY_TYPES = {
    "handoff.acknowledged": "acknowledged_at",
    "handoff.accepted": "accepted_at",
    "handoff.taken_over": "taken_over_at",
}


@dataclass(frozen=True)
class Query:
    since: datetime
    until: datetime
    group_by: GroupBy
    structure_id: uuid.UUID | None  # None: the whole network
    threshold: int


# ---- public schema ---------------------------------------------------------------------------


class StatsRow(msgspec.Struct, kw_only=True):
    group: str
    cells: dict[str, int | None]
    total: int | None


class StatsTable(msgspec.Struct, kw_only=True):
    name: str
    label: str
    unit: str
    rows: list[StatsRow]


class StatsDelay(msgspec.Struct, kw_only=True):
    name: str
    label: str
    group: str
    count: int | None
    median_hours: float | None
    p90_hours: float | None


class StatsRate(msgspec.Struct, kw_only=True):
    name: str
    label: str
    group: str
    numerator: int | None
    denominator: int | None
    rate: float | None


class StatsRead(msgspec.Struct, kw_only=True):
    """Anonymous statistics. ``null`` means hidden by statistical secrecy (counts below
    ``min_cell`` and the complements that would let one recompute them)."""

    since: datetime
    until: datetime
    scope: Literal["structure", "network"]
    structure_id: uuid.UUID | None
    group_by: GroupBy
    min_cell: int
    groups: list[str]
    tables: list[StatsTable]
    delays: list[StatsDelay]
    rates: list[StatsRate]


# ---- loading ---------------------------------------------------------------------------------


async def departements(locator: ServiceLocator, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The département of each structure, from the directory's public API."""
    found: dict[uuid.UUID, str] = {}
    semaphore = asyncio.Semaphore(8)

    async def one(client: httpx.AsyncClient, structure_id: uuid.UUID) -> None:
        async with semaphore:
            try:
                response = await client.get(f"/directory/v1/structures/{structure_id}")
            except httpx.HTTPError as exc:
                raise unavailable(reading=True) from exc
        if response.status_code == 200:
            code = response.json().get("departement_code")
            found[structure_id] = str(code) if code else UNKNOWN_TERRITORY
        elif response.status_code == 404:
            found[structure_id] = UNKNOWN_TERRITORY
        else:
            raise unavailable(reading=True)

    async with locator.client("directory") as client:
        await asyncio.gather(*(one(client, s) for s in ids))
    return found


async def load(
    session: AsyncSession, locator: ServiceLocator, query: Query
) -> tuple[list[domain.ReferralFact], list[domain.HandoffFact]]:
    r, h = m.Referral, m.Handoff
    chosen = sa.select(r.id).where(r.created_at >= query.since, r.created_at < query.until)
    sid = query.structure_id
    if sid is not None:
        involved = sa.exists(
            sa.select(h.id).where(
                h.referral_id == r.id, sa.or_(h.to_structure_id == sid, h.from_structure_id == sid)
            )
        )
        chosen = chosen.where(sa.or_(r.structure_id == sid, involved))
    ids = chosen.scalar_subquery()
    referrals = (
        await session.execute(
            sa.select(
                r.id,
                r.structure_id,
                r.status,
                r.thematiques,
                r.channel,
                r.age_band,
                r.sex,
                r.outcome,
            ).where(r.id.in_(ids))
        )
    ).all()
    handoff_query = sa.select(
        h.id,
        h.referral_id,
        h.position,
        h.from_structure_id,
        h.to_structure_id,
        h.to_service_id,
        h.state,
        h.decline_reason,
        h.created_at,
    ).where(h.referral_id.in_(ids))
    handoffs = (await session.execute(handoff_query.order_by(h.referral_id, h.position))).all()
    times = (
        await session.execute(
            sa.select(
                m.TimelineEvent.handoff_id,
                m.TimelineEvent.type,
                sa.func.min(m.TimelineEvent.occurred_at),
            )
            .where(
                m.TimelineEvent.referral_id.in_(ids),
                m.TimelineEvent.type.in_(list(DELAY_TYPES)),
            )
            .group_by(m.TimelineEvent.handoff_id, m.TimelineEvent.type)
        )
    ).all()
    at: dict[uuid.UUID, dict[str, datetime]] = {}
    for handoff_id, kind, when in times:
        if handoff_id is not None:
            at.setdefault(handoff_id, {})[DELAY_TYPES[kind]] = _aware(when)
    first_service: dict[uuid.UUID, uuid.UUID | None] = {}
    count: dict[uuid.UUID, int] = {}
    for row in handoffs:
        first_service.setdefault(row.referral_id, row.to_service_id)
        count[row.referral_id] = count.get(row.referral_id, 0) + 1
    territory: dict[uuid.UUID, str] = {}
    if query.group_by == "territory":
        wanted = {row.structure_id for row in referrals} | {row.to_structure_id for row in handoffs}
        territory = await departements(locator, wanted)

    def referral_group(row: Any) -> str:
        if query.group_by == "structure":
            return str(row.structure_id)
        if query.group_by == "service":
            service = first_service.get(row.id)
            return str(service) if service else NO_SERVICE
        if query.group_by == "territory":
            return territory.get(row.structure_id, UNKNOWN_TERRITORY)
        return domain.OVERALL

    def handoff_group(row: Any) -> str:
        if query.group_by == "structure":
            return str(row.to_structure_id)
        if query.group_by == "service":
            return str(row.to_service_id) if row.to_service_id else NO_SERVICE
        if query.group_by == "territory":
            return territory.get(row.to_structure_id, UNKNOWN_TERRITORY)
        return domain.OVERALL

    origin = {row.id: row.structure_id for row in referrals}
    facts = [
        domain.ReferralFact(
            group=referral_group(row),
            status=row.status,
            thematiques=tuple(row.thematiques or ()),
            channel=row.channel,
            age_band=row.age_band,
            sex=row.sex,
            outcome=row.outcome,
            handoffs=count.get(row.id, 0),
        )
        for row in referrals
    ]
    handoff_facts = [
        domain.HandoffFact(
            group=handoff_group(row),
            state=row.state,
            decline_reason=row.decline_reason,
            sent_at=_aware(row.created_at),
            **at.get(row.id, {}),
        )
        for row in handoffs
        if sid is None
        or sid in (origin.get(row.referral_id), row.from_structure_id, row.to_structure_id)
    ]
    return facts, handoff_facts


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def compute(session: AsyncSession, locator: ServiceLocator, query: Query) -> StatsRead:
    if query.until <= query.since:
        raise ProblemError(400, "La période est vide : « until » doit suivre « since ».")
    referrals, handoffs = await load(session, locator, query)
    groups: list[str] | None = None if query.group_by != "none" else []
    report = domain.compute(referrals, handoffs, query.threshold, groups)
    return StatsRead(
        since=query.since,
        until=query.until,
        scope="structure" if query.structure_id else "network",
        structure_id=query.structure_id,
        group_by=query.group_by,
        min_cell=query.threshold,
        groups=report.groups,
        tables=[
            StatsTable(
                name=t.name,
                label=t.label,
                unit=t.unit,
                rows=[StatsRow(group=r.group, cells=r.cells, total=r.total) for r in t.rows],
            )
            for t in report.tables
        ],
        delays=[StatsDelay(**vars(d)) for d in report.delays],
        rates=[StatsRate(**vars(r)) for r in report.rates],
    )


# ---- CSV -------------------------------------------------------------------------------------

CSV_HEADER = ("indicateur", "libellé", "groupe", "modalité", "valeur")
HIDDEN = "secret"


def _group(label: str) -> str:
    return "ensemble" if label == domain.OVERALL else label


def _value(value: float | None) -> str:
    if value is None:
        return HIDDEN
    return str(value).replace(".", ",") if isinstance(value, float) else str(value)


def to_csv(report: StatsRead) -> str:
    """The same tables as CSV (French headers; hidden values read « secret »)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for table in report.tables:
        for row in table.rows:
            for category, value in row.cells.items():
                writer.writerow(
                    (table.name, table.label, _group(row.group), category, _value(value))
                )
            writer.writerow(
                (table.name, table.label, _group(row.group), "total", _value(row.total))
            )
    for delay in report.delays:
        delay_values: tuple[tuple[str, float | None], ...] = (
            ("effectif", delay.count),
            ("médiane", delay.median_hours),
            ("p90", delay.p90_hours),
        )
        for what, amount in delay_values:
            writer.writerow((delay.name, delay.label, _group(delay.group), what, _value(amount)))
    for rate in report.rates:
        rate_values: tuple[tuple[str, float | None], ...] = (
            ("numérateur", rate.numerator),
            ("dénominateur", rate.denominator),
            ("taux", rate.rate),
        )
        for what, share in rate_values:
            writer.writerow((rate.name, rate.label, _group(rate.group), what, _value(share)))
    return out.getvalue()


def rows_of(report: StatsRead) -> Sequence[StatsTable]:
    return report.tables
