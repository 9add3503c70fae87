"""Anonymous counts for statistics, counted by the database (no personal column is read).

Each query groups the referrals of the period and scope by where they went (the receiving
structure and service of each handoff, and of each referral's last one) or by thematique: one
row a place (or thematique) holds every count of the referral tables, as sums the database
makes; the handoffs come by state, the delays as one list a place and kind. The domain adds
places up into groupings and applies secrecy.
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
    FEEDBACK_LABELS,
    HANDOFFS,
    NO_FEEDBACK,
    NO_SCORE,
    REFERRAL_STATUSES,
    REFERRALS,
    SCORE_SUM,
    SCORES,
    TOTAL,
    Tally,
)
from services.referrals.domain.vocabulary import Channel, Outcome, Sex

EVENT_KINDS = {
    "handoff.acknowledged": "acknowledged",
    "handoff.accepted": "accepted",
    "handoff.taken_over": "taken_over",
}
UNKNOWN_BAND = "unknown"


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


def referral_cells(
    handoffs: sa.ColumnElement[int], bands: Sequence[str]
) -> list[tuple[tuple[str, str], sa.ColumnElement[Any]]]:
    """Each count of the referral tables, as a sum the database makes over a group's referrals
    (``handoffs``: how many handoffs each has). The age bands outside ``bands`` are « unknown »:
    the referrals less those of the other bands."""
    closed = r.status == "closed"

    def where(condition: sa.ColumnElement[bool], weight: Any = 1) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((condition, weight), else_=0))

    score = sa.func.coalesce(r.evaluation_score, 0)
    feedback = sa.func.coalesce(r.person_feedback, "")
    cells: list[tuple[tuple[str, str], sa.ColumnElement[Any]]] = [
        ((REFERRALS, TOTAL), sa.func.count()),
        *((("statut", s), where(r.status == s)) for s in REFERRAL_STATUSES),
        *((("canal", c.value), where(r.channel == c.value)) for c in Channel),
        *((("tranche_age", b), where(r.age_band == b)) for b in bands if b != UNKNOWN_BAND),
        *((("sexe", x.value), where(r.sex == x.value)) for x in Sex),
        (("transmissions", "1"), where(handoffs <= 1)),
        (("transmissions", "2"), where(handoffs == 2)),
        (("transmissions", "3+"), where(handoffs >= 3)),
        (("transmissions", ALL_HANDOFFS), sa.func.sum(handoffs)),
        (("transmissions", BEYOND_TWO), where(handoffs >= 3, handoffs)),
        *((("issue", o.value), where(closed & (r.outcome == o.value))) for o in Outcome),
        *((("evaluation", s), where(closed & (score == int(s)))) for s in SCORES),
        (("evaluation", NO_SCORE), where(closed & (score == 0))),
        (("evaluation", SCORE_SUM), where(closed, score)),
        *(
            (("avis_personne", f), where(closed & (feedback == f)))
            for f in FEEDBACK_LABELS
            if f != NO_FEEDBACK
        ),
        (("avis_personne", NO_FEEDBACK), where(closed & (feedback == ""))),
    ]
    return [(key, cell.label(f"c{i}")) for i, (key, cell) in enumerate(cells)]


def add_referral_cells(
    tally: Tally, keys: Sequence[tuple[str, str]], values: Sequence[Any]
) -> None:
    for key, value in zip(keys, values, strict=True):
        tally[key] += int(value or 0)
    known = sum(v for (t, c), v in tally.items() if t == "tranche_age" and c != UNKNOWN_BAND)
    tally[("tranche_age", UNKNOWN_BAND)] = tally[(REFERRALS, TOTAL)] - known


def _add_handoffs(tally: Tally, row: Any) -> None:
    tally[(HANDOFFS, TOTAL)] += row.n
    tally[("etat_transmission", row.state)] += row.n
    if row.state == "declined":
        tally[("motif_refus", row.decline_reason or "other")] += row.n


def _durations(listed: str | None) -> domain.Durations:
    """A group's delays in tenths of hours, from the « tenths:count » pairs of ``_listed``."""
    durations: domain.Durations = Counter()
    for pair in listed.split(",") if listed else ():
        value, _, count = pair.partition(":")
        durations[max(int(value), 0)] += int(count)
    return durations


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
    referrals = sa.select(r).join(per_referral, per_referral.c.referral_id == r.id)
    if query.by_place:
        where = sa.and_(last.referral_id == r.id, last.position == per_referral.c.last)
        referrals = referrals.join(last, where)
    cells = referral_cells(per_referral.c.handoffs, query.age_bands)
    keys = [key for key, _ in cells]

    def place_of(row: Any) -> domain.Place:
        if not query.by_place:
            return domain.EVERYWHERE
        return domain.Place(str(row[0]), str(row[1]) if row[1] else None)

    def tally_of(found: dict[Any, Tally], key: Any) -> Tally:
        return found.setdefault(key, Counter())

    grouped = referrals.with_only_columns(*place, *(cell for _, cell in cells))
    for row in await session.execute(grouped.group_by(*place)):
        add_referral_cells(tally_of(counts.places, place_of(row)), keys, row[len(place) :])
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
        await _thematiques(session, query, counts, referrals, cells)
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
    tenths = _tenths_of_hours(session, h.created_at, first.c.at)
    histogram = (
        sa.select(*place, first.c.type, tenths, sa.func.count())
        .join(first, first.c.handoff_id == h.id)
        .where(*_handoffs_in_scope(query))
        .group_by(*place, first.c.type, tenths)
    )
    for row in await session.execute(_listed(histogram)):
        durations = counts.place_delays.setdefault(place_of(row), {})
        durations[EVENT_KINDS[row[-2]]] = _durations(row[-1])


def _listed(histogram: sa.Select[Any]) -> sa.Select[Any]:
    """The delays of a histogram (group columns, kind, tenths, count) as one row a group and
    kind, its « tenths:count » pairs in one string: a few rows, not one a value."""
    found = histogram.subquery()
    *groups, tenths, count = found.c
    pair = sa.cast(tenths, sa.String) + ":" + sa.cast(count, sa.String)
    return sa.select(*groups, sa.func.aggregate_strings(pair, ",")).group_by(*groups)


async def _thematiques(
    session: AsyncSession,
    query: Query,
    counts: domain.Counts,
    referrals: sa.Select[Any],
    cells: Sequence[tuple[tuple[str, str], sa.ColumnElement[Any]]],
) -> None:
    """The same counts per thematique (a referral counts under each of its thematiques)."""
    keys = [key for key, _ in cells]
    joined = referrals.join(t, t.referral_id == r.id)
    grouped = joined.with_only_columns(t.thematique, *(cell for _, cell in cells))
    for row in await session.execute(grouped.group_by(t.thematique)):
        add_referral_cells(counts.thematiques.setdefault(row[0], Counter()), keys, row[1:])
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
    histogram = (
        sa.select(t.thematique, first.c.type, tenths, sa.func.count())
        .join(first, first.c.handoff_id == h.id)
        .join(t, t.referral_id == h.referral_id)
        .where(*_handoffs_in_scope(query))
        .group_by(t.thematique, first.c.type, tenths)
    )
    for theme, kind, listed in await session.execute(_listed(histogram)):
        counts.thematique_delays.setdefault(theme, {})[EVENT_KINDS[kind]] = _durations(listed)
