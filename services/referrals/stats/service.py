"""Statistics: counts from the database, names from the directory, secrecy from the domain;
rendered as JSON or as a CSV file for people (French headers and labels)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.http import ServiceLocator
from services.kernel.problems import ProblemError
from services.kernel.reference.geography import geography
from services.kernel.reference.taxonomies import taxonomy
from services.referrals.domain import stats as domain
from services.referrals.domain.stats_tables import OVERALL, category_labels
from services.referrals.stats import directory
from services.referrals.stats.load import Query as LoadQuery
from services.referrals.stats.load import load
from services.referrals.stats.schemas import (
    GroupBy,
    StatsCategory,
    StatsDelay,
    StatsGroup,
    StatsMean,
    StatsRate,
    StatsRead,
    StatsRow,
    StatsTable,
)

OVERALL_LABEL = "Ensemble"


@dataclass(frozen=True)
class Query:
    since: datetime
    until: datetime
    group_by: GroupBy
    structure_id: uuid.UUID | None  # None: the whole network
    threshold: int
    age_bands: tuple[str, ...]


def _thematique_label(slug: str) -> str:
    return (
        taxonomy("thematiques").label(slug)
        or taxonomy("categories-thematiques").label(slug)
        or slug
    )


def _group_labels(keys: Iterable[str], entries: dict[str, directory.Entry]) -> dict[str, str]:
    """A French name for each group, from the directory and the reference data."""
    labels = {OVERALL: OVERALL_LABEL}
    for key in keys:
        grouping, _, ident = key.partition("|")
        if grouping == "structure":
            labels[key] = _structure_name(ident, entries)
        elif grouping == "service" and ident.startswith(f"{domain.NO_SERVICE}:"):
            structure = ident.split(":", 1)[1]
            labels[key] = f"{_structure_name(structure, entries)} (sans service précisé)"
        elif grouping == "service":
            entry = entries.get(ident)
            labels[key] = entry.name if entry else f"Service inconnu ({ident[:8]})"
        elif grouping == "territory":
            name = geography().zone_label(f"departement:{ident}")
            labels[key] = f"{name} ({ident})" if name else "Territoire inconnu"
        elif grouping == "service_type":
            found = taxonomy("types-de-services").label(ident)
            labels[key] = found or "Type de service non renseigné"
        else:
            labels[key] = _thematique_label(ident)
    return labels


def _structure_name(ident: str, entries: dict[str, directory.Entry]) -> str:
    entry = entries.get(ident)
    return entry.name if entry else f"Structure inconnue ({ident[:8]})"


async def directory_facts(
    locator: ServiceLocator, counts: domain.Counts
) -> tuple[dict[str, directory.Entry], domain.Directory]:
    """The directory's entries for the places counted, and what the place groupings need."""
    structures = {p.structure for p in counts.places}
    services = {p.service for p in counts.places if p.service}
    entries = await directory.entries(locator, structures, services)
    return entries, domain.Directory(
        territory={s: e.departement for s in structures if (e := entries.get(s)) and e.departement},
        service_type={s: e.type for s in services if (e := entries.get(s)) and e.type},
    )


async def compute(session: AsyncSession, locator: ServiceLocator, query: Query) -> StatsRead:
    if query.until <= query.since:
        raise ProblemError(400, "La période est vide : « until » doit suivre « since ».")
    counts = await load(
        session,
        LoadQuery(
            since=query.since,
            until=query.until,
            structure_id=query.structure_id,
            by_place=query.group_by not in ("none", "thematique"),
            by_thematique=query.group_by == "thematique",
            age_bands=query.age_bands,
        ),
    )
    entries: dict[str, directory.Entry] = {}
    facts: domain.Directory | None = None
    if query.group_by not in ("none", "thematique"):
        entries, facts = await directory_facts(locator, counts)
    report = domain.report(
        counts, query.threshold, query.group_by, age_bands=query.age_bands, directory=facts
    )
    labels = _group_labels(report.groups, entries)
    names = category_labels(query.age_bands, {t: _thematique_label(t) for t in counts.thematiques})

    def ident(key: str) -> str:
        return domain.group_ident(key)

    return StatsRead(
        since=query.since,
        until=query.until,
        scope="structure" if query.structure_id else "network",
        structure_id=query.structure_id,
        group_by=query.group_by,
        min_cell=query.threshold,
        groups=[StatsGroup(id=ident(k), label=labels[k]) for k in report.groups],
        tables=[
            StatsTable(
                name=t.name,
                label=t.label,
                unit=t.unit,
                categories=[
                    StatsCategory(code=c, label=names[t.name].get(c, c)) for c in t.categories
                ],
                rows=[
                    StatsRow(
                        group=ident(r.group),
                        group_label=labels[r.group],
                        cells=r.cells,
                        total=r.total,
                    )
                    for r in t.rows
                ],
            )
            for t in report.tables
        ],
        delays=[
            StatsDelay(
                name=d.name,
                label=d.label,
                group=ident(d.group),
                group_label=labels[d.group],
                median_hours=d.median_hours,
                p90_hours=d.p90_hours,
            )
            for d in report.delays
        ],
        rates=[
            StatsRate(
                name=r.name,
                label=r.label,
                group=ident(r.group),
                group_label=labels[r.group],
                numerator=r.numerator,
                denominator=r.denominator,
                rate=r.rate,
            )
            for r in report.rates
        ],
        means=[
            StatsMean(
                name=m.name,
                label=m.label,
                group=ident(m.group),
                group_label=labels[m.group],
                count=m.count,
                mean=m.mean,
            )
            for m in report.means
        ],
    )


# ---- CSV -------------------------------------------------------------------------------------

CSV_HEADER = ("indicateur", "groupe", "identifiant du groupe", "modalité", "valeur")
HIDDEN = "secret"


def _value(value: float | None) -> str:
    if value is None:
        return HIDDEN
    return str(value).replace(".", ",") if isinstance(value, float) else str(value)


def to_csv(report: StatsRead) -> str:
    """The same answer for a spreadsheet: one value a line, French labels, decimal commas;
    hidden values read « secret »."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for table in report.tables:
        labels = {c.code: c.label for c in table.categories}
        for row in table.rows:
            for code, value in row.cells.items():
                writer.writerow(
                    (table.label, row.group_label, row.group, labels[code], _value(value))
                )
            writer.writerow((table.label, row.group_label, row.group, "total", _value(row.total)))
    for delay in report.delays:
        for what, hours in (("médiane", delay.median_hours), ("90e centile", delay.p90_hours)):
            writer.writerow((delay.label, delay.group_label, delay.group, what, _value(hours)))
    for rate in report.rates:
        for what, share in (
            ("numérateur", rate.numerator),
            ("dénominateur", rate.denominator),
            ("taux", rate.rate),
        ):
            writer.writerow((rate.label, rate.group_label, rate.group, what, _value(share)))
    for mean in report.means:
        for what, amount in (("nombre de notes", mean.count), ("moyenne", mean.mean)):
            writer.writerow((mean.label, mean.group_label, mean.group, what, _value(amount)))
    return out.getvalue()
