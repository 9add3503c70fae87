"""The statistics API's answer, arranged for reading: groups and categories by name, tables with
their totals, charts beside them, hidden values said as such."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from markupsafe import Markup

from services.web.clients.referrals import Stats, StatsRate, StatsTable
from services.web.features.statistiques.charts import Bar, bars
from services.web.formats import PARIS, duration_fr, number_fr, percent_fr

OVERALL = "*"
# « Regrouper par » in the page's URL → the API's group_by.
GROUPINGS = {
    "": ("none", "Sans regroupement"),
    "structure": ("structure", "Structure"),
    "service": ("service", "Service"),
    "thematique": ("thematique", "Thématique"),
    "type": ("service_type", "Type de service"),
    "departement": ("territory", "Département"),
}
HEADLINE_DELAY = "delai_prise_en_charge"


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(0, 0), tzinfo=PARIS)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(0, 0), tzinfo=PARIS)


@dataclass
class Count:
    name: str
    label: str
    unit: str
    categories: list[tuple[str, str]]  # (code, label)
    groups: list[tuple[str, str]]  # (id, label), the overall row last
    cells: dict[tuple[str, str], int | None]
    totals: dict[str, int | None]
    chart: Markup


@dataclass
class Figures:
    """One measure (a delay, a rate, a mean) per group, the overall last."""

    name: str
    label: str
    rows: list[tuple[str, list[str]]]  # (group label, cells as written)
    chart: Markup | None = None


@dataclass
class Report:
    stats: Stats
    groups: list[tuple[str, str]]
    counts: list[Count] = field(default_factory=list)
    delays: list[tuple[str, str]] = field(default_factory=list)  # (id, label) of each delay
    delay_rows: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    rates: list[Figures] = field(default_factory=list)
    means: list[Figures] = field(default_factory=list)
    headline: dict[str, str] = field(default_factory=dict)


def group_labels(stats: Stats) -> dict[str, str]:
    named = {group.id: group.label for group in stats.groups}
    named[OVERALL] = "Ensemble"
    return named


# (table, code, the API's label) → the label shown; the web app knows the directory's names of
# thematiques and its own words for channels (« courrier »), the API may only have the code.
Relabel = Callable[[str, str, str], str]


def french(text: str) -> str:
    """A label as a heading or a table row says it: capital first, typographic apostrophe."""
    text = text.replace("'", "’")
    return text[:1].upper() + text[1:]


def _count(table: StatsTable, names: dict[str, str], relabel: Relabel) -> Count:
    categories = [(c.code, french(relabel(table.name, c.code, c.label))) for c in table.categories]
    groups = [(row.group, names.get(row.group, row.group)) for row in table.rows]
    groups.sort(key=lambda g: g[0] == OVERALL)
    cells = {(row.group, code): row.cells.get(code) for row in table.rows for code, _ in categories}
    totals = {row.group: row.total for row in table.rows}
    overall = [
        Bar(label, cells.get((OVERALL, code)), number_fr(cells.get((OVERALL, code))))
        for code, label in categories
    ]
    return Count(
        name=table.name,
        label=french(table.label),
        unit=table.unit,
        categories=categories,
        groups=groups,
        cells=cells,
        totals=totals,
        chart=bars(f"graphique-{table.name}", f"{french(table.label)} (ensemble)", overall),
    )


# A rate of nothing (no closed referral yet) is not a secret: it does not exist yet.
NO_DATA = "pas encore de données"


def _share(rate: StatsRate) -> str:
    if rate.rate is not None:
        return percent_fr(rate.rate)
    return NO_DATA if rate.denominator == 0 else "masqué"


def report(stats: Stats, relabel: Relabel = lambda table, code, label: label) -> Report:
    names = group_labels(stats)
    ordered = [g for g in names if g != OVERALL] + [OVERALL]
    groups = [(g, names[g]) for g in ordered]
    built = Report(stats=stats, groups=groups)
    built.counts = [_count(t, names, relabel) for t in stats.tables]

    delays: dict[str, str] = {}
    medians: dict[tuple[str, str], str] = {}
    for delay in stats.delays:
        delays.setdefault(delay.name, french(delay.label))
        written = duration_fr(delay.median_hours) if delay.median_hours is not None else "masqué"
        if delay.p90_hours is not None:
            written += f" (9 sur 10 en moins de {duration_fr(delay.p90_hours)})"
        medians[(delay.group, delay.name)] = written
    built.delays = list(delays.items())
    built.delay_rows = [
        (label, [(name, medians.get((group, name), "")) for name in delays])
        for group, label in groups
        if any((group, name) in medians for name in delays)
    ]

    by_rate: dict[str, Figures] = {}
    bars_of: dict[str, list[Bar]] = {}
    for rate in stats.rates:
        figures = by_rate.setdefault(rate.name, Figures(rate.name, french(rate.label), []))
        group = names.get(rate.group, rate.group)
        share = _share(rate)
        counted = (
            f"{number_fr(rate.numerator)} sur {number_fr(rate.denominator)}"
            if rate.numerator is not None and rate.denominator is not None
            else "masqué"
        )
        figures.rows.append((group, [share, counted]))
        nothing = rate.denominator == 0  # an empty bar, not a hidden one
        value = 0.0 if nothing else rate.rate
        bars_of.setdefault(rate.name, []).append(Bar(group, value, share))
    for name, figures in by_rate.items():
        figures.chart = bars(f"graphique-{name}", figures.label, bars_of[name], maximum=1.0)
    built.rates = list(by_rate.values())

    by_mean: dict[str, Figures] = {}
    for mean in stats.means:
        figures = by_mean.setdefault(mean.name, Figures(mean.name, french(mean.label), []))
        figures.rows.append(
            (
                names.get(mean.group, mean.group),
                [
                    number_fr(mean.mean)
                    if mean.mean is not None
                    else (NO_DATA if mean.count == 0 else "masqué"),
                    number_fr(mean.count) if mean.count is not None else "masqué",
                ],
            )
        )
    built.means = list(by_mean.values())

    overall_total = next((t.totals.get(OVERALL) for t in built.counts if t.name == "statut"), None)
    built.headline["orientations"] = (
        number_fr(overall_total) if overall_total is not None else "masqué"
    )
    for rate in stats.rates:
        if rate.group == OVERALL:
            built.headline[rate.name] = _share(rate)
    for delay in stats.delays:
        if delay.group == OVERALL and delay.name == HEADLINE_DELAY:
            built.headline[delay.name] = (
                duration_fr(delay.median_hours) if delay.median_hours is not None else "masqué"
            )
    return built
