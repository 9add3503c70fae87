"""Referral statistics from anonymous facts, with statistical secrecy applied (pure).

Inputs carry no personal field. They are what stays after erasure: states, thematiques, channel,
age band, sex, outcome, and dates. Every count table is published per group with margins. Counts
from 1 to ``threshold - 1`` are hidden, and so are the complements needed to keep them from being
recomputed (``suppression.py``). A rate or delay is hidden when its base is too small or its
numerator is hidden.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.referrals.domain.suppression import grid_equations, suppress
from services.referrals.domain.vocabulary import AgeBand, Channel, DeclineReason, Outcome, Sex

REFERRAL_STATUSES = ("in_progress", "taken_over", "closed", "withdrawn")
HANDOFF_STATES = (
    "sent",
    "acknowledged",
    "accepted",
    "taken_over",
    "closed",
    "declined",
    "cancelled",
    "expired",
    "relayed",
)
RELAY_BANDS = ("1", "2", "3+")
OVERALL = "*"


@dataclass(frozen=True)
class ReferralFact:
    group: str
    status: str
    thematiques: tuple[str, ...]
    channel: str
    age_band: str
    sex: str
    outcome: str | None
    handoffs: int


@dataclass(frozen=True)
class HandoffFact:
    group: str
    state: str
    decline_reason: str | None
    sent_at: datetime
    acknowledged_at: datetime | None = None
    accepted_at: datetime | None = None
    taken_over_at: datetime | None = None


@dataclass
class Row:
    group: str
    cells: dict[str, int | None]
    total: int | None


@dataclass
class Table:
    name: str
    label: str
    unit: str
    rows: list[Row]  # one per group, then the overall row (group "*")


@dataclass
class Delay:
    name: str
    label: str
    group: str
    count: int | None
    median_hours: float | None
    p90_hours: float | None


@dataclass
class Rate:
    name: str
    label: str
    group: str
    numerator: int | None
    denominator: int | None
    rate: float | None


@dataclass
class Report:
    threshold: int
    groups: list[str]
    tables: list[Table] = field(default_factory=list)
    delays: list[Delay] = field(default_factory=list)
    rates: list[Rate] = field(default_factory=list)


def _relay_band(count: int) -> str:
    return "3+" if count >= 3 else str(max(count, 1))


def count_table(
    name: str,
    label: str,
    unit: str,
    groups: Sequence[str],
    categories: Sequence[str],
    items: Iterable[tuple[str, Iterable[str]]],
    threshold: int,
    *,
    additive: bool = True,
) -> Table:
    """Counts of (group, category) with margins, after primary and complementary suppression.

    ``items``: (group, categories of one unit). When not ``additive`` a unit may fall in several
    categories; the row total then counts units, not cells, and is no sum of them.
    """
    values: dict[tuple[str, str], int] = Counter()
    for group in [*groups, OVERALL]:
        for category in [*categories, OVERALL]:
            values[(group, category)] = 0
    known = set(groups)
    for group, cats in items:
        in_group = group in known
        for category in set(cats):
            if category in categories:
                values[(OVERALL, category)] += 1
                if in_group:
                    values[(group, category)] += 1
        values[(OVERALL, OVERALL)] += 1
        if in_group:
            values[(group, OVERALL)] += 1
    equations, totals = grid_equations(list(groups), list(categories), additive=additive)
    if not additive:  # units still add up across groups
        equations.append([*((g, OVERALL) for g in groups), (OVERALL, OVERALL)])
    hidden = suppress(values, equations, threshold, totals=totals)
    rows = [
        Row(
            group=group,
            cells={c: None if (group, c) in hidden else values[(group, c)] for c in categories},
            total=None if (group, OVERALL) in hidden else values[(group, OVERALL)],
        )
        for group in [*groups, OVERALL]
    ]
    return Table(name, label, unit, rows)


def _hours(start: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    return max((end - start).total_seconds(), 0.0) / 3600


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (the smallest value with at least ``q`` of the data at or below)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def delay_stats(
    name: str,
    label: str,
    groups: Sequence[str],
    handoffs: Sequence[HandoffFact],
    pick: Callable[[HandoffFact], datetime | None],
    threshold: int,
) -> list[Delay]:
    found: list[Delay] = []
    for group in [*groups, OVERALL]:
        hours = [
            h
            for f in handoffs
            if group in (OVERALL, f.group)
            for h in [_hours(f.sent_at, pick(f))]
            if h is not None
        ]
        if len(hours) < threshold:
            found.append(Delay(name, label, group, None, None, None))
            continue
        found.append(
            Delay(
                name,
                label,
                group,
                len(hours),
                round(statistics.median(hours), 1),
                round(percentile(hours, 0.9), 1),
            )
        )
    return found


def _rate(
    name: str, label: str, table: Table, category: str, denominator_table: Table | None = None
) -> list[Rate]:
    rates: list[Rate] = []
    base = denominator_table or table
    for row, base_row in zip(table.rows, base.rows, strict=True):
        numerator = row.cells.get(category)
        denominator = base_row.total
        rate = round(numerator / denominator, 3) if numerator is not None and denominator else None
        rates.append(
            Rate(
                name,
                label,
                row.group,
                numerator,
                denominator,
                rate if numerator is not None else None,
            )
        )
    return rates


def compute(
    referrals: Sequence[ReferralFact],
    handoffs: Sequence[HandoffFact],
    threshold: int,
    groups: Sequence[str] | None = None,
) -> Report:
    if groups is None:
        groups = sorted({r.group for r in referrals} | {h.group for h in handoffs} - {OVERALL})
    groups = [g for g in groups if g != OVERALL]
    report = Report(threshold=threshold, groups=list(groups))

    def table(
        name: str,
        label: str,
        categories: Sequence[str],
        pick: Callable[[ReferralFact], Iterable[str]],
        *,
        additive: bool = True,
        only: Callable[[ReferralFact], bool] = lambda _: True,
    ) -> Table:
        return count_table(
            name,
            label,
            "orientations",
            groups,
            categories,
            ((r.group, pick(r)) for r in referrals if only(r)),
            threshold,
            additive=additive,
        )

    thematiques = sorted({t for r in referrals for t in r.thematiques})
    outcomes = table(
        "issue",
        "Issue des orientations clôturées",
        [o.value for o in Outcome],
        lambda r: [r.outcome or ""],
        only=lambda r: r.outcome is not None,
    )
    report.tables += [
        table("statut", "Orientations par statut", REFERRAL_STATUSES, lambda r: [r.status]),
        table(
            "thematique",
            "Orientations par thématique (une orientation peut en avoir plusieurs)",
            thematiques,
            lambda r: r.thematiques,
            additive=False,
        ),
        table(
            "canal",
            "Orientations par canal d'arrivée",
            [c.value for c in Channel],
            lambda r: [r.channel],
        ),
        table(
            "tranche_age",
            "Orientations par tranche d'âge",
            [a.value for a in AgeBand],
            lambda r: [r.age_band],
        ),
        table("sexe", "Orientations par sexe", [s.value for s in Sex], lambda r: [r.sex]),
        outcomes,
        table(
            "transmissions",
            "Nombre de transmissions par orientation",
            RELAY_BANDS,
            lambda r: [_relay_band(r.handoffs)],
        ),
    ]
    states = count_table(
        "etat_transmission",
        "Transmissions par état",
        "transmissions",
        groups,
        HANDOFF_STATES,
        ((h.group, [h.state]) for h in handoffs),
        threshold,
    )
    declines = count_table(
        "motif_refus",
        "Motifs de refus",
        "transmissions refusées",
        groups,
        [d.value for d in DeclineReason],
        ((h.group, [h.decline_reason or "other"]) for h in handoffs if h.state == "declined"),
        threshold,
    )
    report.tables += [states, declines]
    report.rates += _rate("taux_expiration", "Part des transmissions expirées", states, "expired")
    report.rates += _rate(
        "taux_solution",
        "Part des personnes ayant trouvé une solution (orientations clôturées)",
        outcomes,
        "solution_found",
    )
    report.delays += delay_stats(
        "delai_accuse_reception",
        "Délai de l'envoi à l'accusé de réception (heures)",
        groups,
        handoffs,
        lambda h: h.acknowledged_at,
        threshold,
    )
    report.delays += delay_stats(
        "delai_acceptation",
        "Délai de l'envoi à l'acceptation (heures)",
        groups,
        handoffs,
        lambda h: h.accepted_at,
        threshold,
    )
    report.delays += delay_stats(
        "delai_prise_en_charge",
        "Délai de l'envoi à la prise en charge (heures)",
        groups,
        handoffs,
        lambda h: h.taken_over_at,
        threshold,
    )
    return report
