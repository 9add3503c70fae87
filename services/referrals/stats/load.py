"""Anonymous counts for statistics, counted by the database (no personal column is read).

Each query groups the referrals of the period and scope by where they went (the receiving
structure and service of each handoff, and of each referral's last one) or by thematique, and by
the categories of the tables; the domain adds places up into groupings and applies secrecy.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.referrals import models as m
from services.referrals.domain import stats as domain
from services.referrals.domain.stats_tables import (
    ALL_HANDOFFS,
    BEYOND_TWO,
    HANDOFFS,
    NO_FEEDBACK,
    NO_SCORE,
    REFERRALS,
    SCORE_SUM,
    TOTAL,
    Tally,
)

EVENT_KINDS = {
    "handoff.acknowledged": "acknowledged",
    "handoff.accepted": "accepted",
    "handoff.taken_over": "taken_over",
}


@dataclass(frozen=True)
class Query:
    since: datetime
    until: datetime
    structure_id: uuid.UUID | None  # None: the whole network
    by_place: bool  # count per place (the place groupings); otherwise all in one
    by_thematique: bool  # also count per thematique (the thematique grouping)
    age_bands: Sequence[str]


r, h, t = m.Referral, m.Handoff, m.ReferralThematique


def _chosen(query: Query) -> sa.ScalarSelect[Any]:
    """Ids of the referrals created in the period that the scope covers."""
    chosen = sa.select(r.id).where(r.created_at >= query.since, r.created_at < query.until)
    sid = query.structure_id
    if sid is not None:
        involved = sa.exists(
            sa.select(h.id).where(
                h.referral_id == r.id, sa.or_(h.to_structure_id == sid, h.from_structure_id == sid)
            )
        )
        chosen = chosen.where(sa.or_(r.structure_id == sid, involved))
    return chosen.scalar_subquery()


def _handoffs_in_scope(query: Query) -> list[sa.ColumnElement[bool]]:
    """In a structure's scope, the handoffs it took part in (all of those it sent a referral
    for)."""
    ids = _chosen(query)
    where: list[sa.ColumnElement[bool]] = [h.referral_id.in_(ids)]
    sid = query.structure_id
    if sid is not None:
        origin = sa.select(r.structure_id).where(r.id == h.referral_id).scalar_subquery()
        where.append(sa.or_(origin == sid, h.from_structure_id == sid, h.to_structure_id == sid))
    return where


def _tenths_of_hours(session: AsyncSession, start: Any, end: Any) -> sa.ColumnElement[int]:
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        seconds = sa.extract("epoch", end - start)
        return sa.cast(sa.func.round(seconds / 360.0), sa.Integer)
    days = sa.func.julianday(end) - sa.func.julianday(start)
    return sa.cast(sa.func.round(days * 240.0), sa.Integer)


def _add_referrals(tally: Tally, row: Any, bands: frozenset[str]) -> None:
    count, handoffs = row.n, row.handoffs
    tally[(REFERRALS, TOTAL)] += count
    tally[("statut", row.status)] += count
    tally[("canal", row.channel)] += count
    tally[("tranche_age", row.age_band if row.age_band in bands else "unknown")] += count
    tally[("sexe", row.sex)] += count
    tally[("transmissions", "3+" if handoffs >= 3 else str(max(handoffs, 1)))] += count
    tally[("transmissions", ALL_HANDOFFS)] += count * handoffs
    if handoffs >= 3:
        tally[("transmissions", BEYOND_TWO)] += count * handoffs
    if row.status == "closed":
        if row.outcome:
            tally[("issue", row.outcome)] += count
        score = row.evaluation_score
        tally[("evaluation", str(score) if score else NO_SCORE)] += count
        tally[("evaluation", SCORE_SUM)] += count * (score or 0)
        tally[("avis_personne", row.person_feedback or NO_FEEDBACK)] += count


def _add_handoffs(tally: Tally, row: Any) -> None:
    tally[(HANDOFFS, TOTAL)] += row.n
    tally[("etat_transmission", row.state)] += row.n
    if row.state == "declined":
        tally[("motif_refus", row.decline_reason or "other")] += row.n


async def load(session: AsyncSession, query: Query) -> domain.Counts:
    counts = domain.Counts()
    ids = _chosen(query)
    per_referral = (
        sa.select(
            h.referral_id.label("referral_id"),
            sa.func.count().label("handoffs"),
            sa.func.max(h.position).label("last"),
        )
        .where(h.referral_id.in_(ids))
        .group_by(h.referral_id)
        .subquery()
    )
    last = aliased(h)
    place = (last.to_structure_id, last.to_service_id) if query.by_place else ()
    handoff_place = (h.to_structure_id, h.to_service_id) if query.by_place else ()
    referral_columns = (
        r.status,
        r.channel,
        r.age_band,
        r.sex,
        r.outcome,
        r.evaluation_score,
        r.person_feedback,
        per_referral.c.handoffs,
    )
    referrals = sa.select(r).join(per_referral, per_referral.c.referral_id == r.id)
    if query.by_place:
        where = sa.and_(last.referral_id == r.id, last.position == per_referral.c.last)
        referrals = referrals.join(last, where)
    bands = frozenset(query.age_bands)

    def place_of(row: Any) -> domain.Place:
        if not query.by_place:
            return domain.EVERYWHERE
        return domain.Place(str(row[0]), str(row[1]) if row[1] else None)

    def tally_of(found: dict[Any, Tally], key: Any) -> Tally:
        return found.setdefault(key, Counter())

    grouped = referrals.with_only_columns(*place, *referral_columns, sa.func.count().label("n"))
    for row in await session.execute(grouped.group_by(*place, *referral_columns)):
        _add_referrals(tally_of(counts.places, place_of(row)), row, bands)
    by_thematique = referrals.join(t, t.referral_id == r.id)
    themes = by_thematique.with_only_columns(*place, t.thematique, sa.func.count().label("n"))
    for row in await session.execute(themes.group_by(*place, t.thematique)):
        tally_of(counts.places, place_of(row))[("thematique", row.thematique)] += row.n
    handoffs = sa.select(*handoff_place, h.state, h.decline_reason, sa.func.count().label("n"))
    grouped_handoffs = handoffs.where(*_handoffs_in_scope(query)).group_by(
        *handoff_place, h.state, h.decline_reason
    )
    for row in await session.execute(grouped_handoffs):
        _add_handoffs(tally_of(counts.places, place_of(row)), row)
    await _delays(session, query, counts, handoff_place, place_of)
    if query.by_thematique:
        await _thematiques(session, query, counts, referrals, referral_columns)
    return counts


def _first_events(query: Query) -> sa.Subquery:
    e = m.TimelineEvent
    return (
        sa.select(e.handoff_id, e.type, sa.func.min(e.occurred_at).label("at"))
        .where(e.referral_id.in_(_chosen(query)), e.type.in_(list(EVENT_KINDS)))
        .group_by(e.handoff_id, e.type)
        .subquery()
    )


async def _delays(
    session: AsyncSession,
    query: Query,
    counts: domain.Counts,
    place: Sequence[Any],
    place_of: Callable[[Any], domain.Place],
) -> None:
    first = _first_events(query)
    tenths = _tenths_of_hours(session, h.created_at, first.c.at).label("tenths")
    kind = first.c.type.label("kind")
    rows = await session.execute(
        sa.select(*place, kind, tenths, sa.func.count().label("n"))
        .join(first, first.c.handoff_id == h.id)
        .where(*_handoffs_in_scope(query))
        .group_by(*place, kind, tenths)
    )
    for row in rows:
        durations = counts.place_delays.setdefault(place_of(row), {})
        durations.setdefault(EVENT_KINDS[row.kind], Counter())[max(row.tenths, 0)] += row.n


async def _thematiques(
    session: AsyncSession,
    query: Query,
    counts: domain.Counts,
    referrals: sa.Select[Any],
    referral_columns: Sequence[Any],
) -> None:
    """The same counts per thematique (a referral counts under each of its thematiques)."""
    bands = frozenset(query.age_bands)
    joined = referrals.join(t, t.referral_id == r.id)
    grouped = joined.with_only_columns(t.thematique, *referral_columns, sa.func.count().label("n"))
    for row in await session.execute(grouped.group_by(t.thematique, *referral_columns)):
        _add_referrals(counts.thematiques.setdefault(row.thematique, Counter()), row, bands)
    other = aliased(t)
    pairs = (
        sa.select(t.thematique, other.thematique, sa.func.count())
        .join(other, other.referral_id == t.referral_id)
        .where(t.referral_id.in_(_chosen(query)))
        .group_by(t.thematique, other.thematique)
    )
    for theme, also, count in await session.execute(pairs):
        counts.thematiques.setdefault(theme, Counter())[("thematique", also)] += count
    handoffs = (
        sa.select(t.thematique, h.state, h.decline_reason, sa.func.count().label("n"))
        .join(t, t.referral_id == h.referral_id)
        .where(*_handoffs_in_scope(query))
        .group_by(t.thematique, h.state, h.decline_reason)
    )
    for row in await session.execute(handoffs):
        _add_handoffs(counts.thematiques.setdefault(row.thematique, Counter()), row)
    first = _first_events(query)
    tenths = _tenths_of_hours(session, h.created_at, first.c.at)
    rows = await session.execute(
        sa.select(t.thematique, first.c.type, tenths, sa.func.count())
        .join(first, first.c.handoff_id == h.id)
        .join(t, t.referral_id == h.referral_id)
        .where(*_handoffs_in_scope(query))
        .group_by(t.thematique, first.c.type, tenths)
    )
    for theme, kind, value, count in rows:
        durations = counts.thematique_delays.setdefault(theme, {}).setdefault(
            EVENT_KINDS[kind], Counter()
        )
        durations[max(value, 0)] += count
