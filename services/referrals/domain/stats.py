"""Referral statistics from anonymous counts, with statistical secrecy applied (pure).

Inputs carry no personal field: counts by place (the receiving structure and service of a
handoff, and of a referral's last handoff) and by thematique, and delays in tenths of hours.
Tables are in ``stats_tables.py``, the suppression in ``suppression.py``.

Secrecy holds across everything one caller can ask for the same period and scope:

- the overall row is protected first, all tables together (a hidden count cannot come back as
  another table's total or difference), and is the same in every answer;
- the groupings that are sums of one another are protected together, with the overall row
  fixed: places (service, structure, territory, service type — a service's handoffs are its
  structure's, the structures of a département are the département's, the services of a type
  are the type's) and thematiques. Asking for any grouping of a family publishes a slice of the
  same protected release, so no sum across groups or groupings rebuilds a hidden count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from services.referrals.domain.stats_tables import (
    OVERALL,
    REFERRALS,
    SCORE_SUM,
    TOTAL,
    TableSpec,
    Tally,
    Var,
    cost,
    nest_equations,
    row_equations,
    row_values,
    table_specs,
)
from services.referrals.domain.suppression import Equation, suppress

Grouping = Literal["none", "structure", "service", "territory", "service_type", "thematique"]
PLACE_GROUPINGS: tuple[Grouping, ...] = ("service", "structure", "territory", "service_type")
NO_SERVICE = "sans-service"
NO_TYPE = "sans-type"
UNKNOWN_TERRITORY = "inconnu"
DELAYS = (
    ("delai_accuse_reception", "Délai de l'envoi à l'accusé de réception (heures)", "acknowledged"),
    ("delai_acceptation", "Délai de l'envoi à l'acceptation (heures)", "accepted"),
    ("delai_prise_en_charge", "Délai de l'envoi à la prise en charge (heures)", "taken_over"),
)
Durations = Counter[int]  # tenths of an hour -> how many


@dataclass(frozen=True)
class Place:
    """Where a handoff went (or a referral's last one): receiving structure and service."""

    structure: str
    service: str | None


EVERYWHERE = Place("*", None)  # all places together, when no place grouping is asked for


@dataclass
class Counts:
    """Anonymous counts of one period and scope."""

    places: dict[Place, Tally] = field(default_factory=dict)
    # Per thematique: referrals having it and their handoffs; the "thematique" table holds how
    # many of them also have each other thematique.
    thematiques: dict[str, Tally] = field(default_factory=dict)
    place_delays: dict[Place, dict[str, Durations]] = field(default_factory=dict)
    thematique_delays: dict[str, dict[str, Durations]] = field(default_factory=dict)


@dataclass(frozen=True)
class Directory:
    """Public directory facts the place groupings need."""

    territory: Mapping[str, str]  # structure -> département code
    service_type: Mapping[str, str]  # service -> type slug


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
    categories: list[str]
    rows: list[Row]  # one per group, then the overall row (group "*")


@dataclass
class Delay:
    name: str
    label: str
    group: str
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
class Mean:
    name: str
    label: str
    group: str
    count: int | None
    mean: float | None


@dataclass
class Report:
    threshold: int
    groups: list[str]
    tables: list[Table] = field(default_factory=list)
    delays: list[Delay] = field(default_factory=list)
    rates: list[Rate] = field(default_factory=list)
    means: list[Mean] = field(default_factory=list)


@dataclass
class Release:
    """Values of every row of a family, and those hidden."""

    values: dict[Var, int]
    hidden: set[Var]
    specs: list[TableSpec]


# ---- groups ----------------------------------------------------------------------------------


def group_key(grouping: str, ident: str) -> str:
    return f"{grouping}|{ident}"


def group_ident(key: str) -> str:
    return key if key == OVERALL else key.split("|", 1)[1]


def place_members(
    places: Iterable[Place], directory: Directory
) -> dict[Grouping, dict[str, list[Place]]]:
    """The places each group of each place grouping gathers."""
    members: dict[Grouping, defaultdict[str, list[Place]]] = {
        g: defaultdict(list) for g in PLACE_GROUPINGS
    }
    for place in places:
        service = place.service or f"{NO_SERVICE}:{place.structure}"
        kind = directory.service_type.get(place.service, NO_TYPE) if place.service else NO_TYPE
        territory = directory.territory.get(place.structure, UNKNOWN_TERRITORY)
        members["service"][group_key("service", service)].append(place)
        members["structure"][group_key("structure", place.structure)].append(place)
        members["territory"][group_key("territory", territory)].append(place)
        members["service_type"][group_key("service_type", kind)].append(place)
    return {g: dict(sorted(m.items())) for g, m in members.items()}


def _sum(tallies: Iterable[Tally]) -> Tally:
    total: Tally = Counter()
    for tally in tallies:
        total.update(tally)
    return total


# ---- protection ------------------------------------------------------------------------------


def _measures(values: Iterable[Var]) -> set[Var]:
    return {v for v in values if v[2] == SCORE_SUM}


def protect_overall(specs: Sequence[TableSpec], tally: Tally, threshold: int) -> Release:
    values = row_values(specs, OVERALL, tally)
    equations = row_equations(specs, OVERALL, tally)
    hidden = suppress(values, equations, threshold, measures=_measures(values), cost=cost)
    return Release(values, hidden, list(specs))


def protect_places(
    overall: Release, counts: Counts, directory: Directory, threshold: int
) -> Release:
    """Every place grouping at once, with the overall row as published."""
    specs = overall.specs
    members = place_members(counts.places, directory)
    values = dict(overall.values)
    equations: list[Equation[Var]] = []
    for groups in members.values():
        for key, places in groups.items():
            tally = _sum(counts.places[p] for p in places)
            values.update(row_values(specs, key, tally))
            equations += row_equations(specs, key, tally)
    columns = list(dict.fromkeys((table, category) for table, _, category in overall.values))
    service_of = {p: k for k, ps in members["service"].items() for p in ps}
    structure_of = {p: k for k, ps in members["structure"].items() for p in ps}
    for grouping in ("territory", "service_type"):
        equations += nest_equations(columns, OVERALL, list(members[grouping]))
    for key, places in members["territory"].items():
        equations += nest_equations(columns, key, sorted({structure_of[p] for p in places}))
    parents: tuple[Grouping, ...] = ("structure", "service_type")
    for grouping in parents:
        for key, places in members[grouping].items():
            equations += nest_equations(columns, key, sorted({service_of[p] for p in places}))
    return _protect_family(overall, values, equations, threshold)


def protect_thematiques(overall: Release, counts: Counts, threshold: int) -> Release:
    """The thematique rows, with the overall row as published. A referral counts under each of
    its thematiques, so rows do not add up to the overall row; but a thematique's referrals are
    the overall count of that thematique, and « t with u » is « u with t »."""
    specs = overall.specs
    values = dict(overall.values)
    equations: list[Equation[Var]] = []
    for thematique, tally in sorted(counts.thematiques.items()):
        key = group_key("thematique", thematique)
        row = row_values(specs, key, tally)
        values.update(row)
        equations += row_equations(specs, key, tally)
        equations.append([((REFERRALS, key, TOTAL), 1), (("thematique", OVERALL, thematique), -1)])
        equations.append([((REFERRALS, key, TOTAL), 1), (("thematique", key, thematique), -1)])
        for other in sorted(counts.thematiques):
            if other < thematique:
                mirror = ("thematique", group_key("thematique", other), thematique)
                equations.append([(("thematique", key, other), 1), (mirror, -1)])
    return _protect_family(overall, values, equations, threshold)


def _protect_family(
    overall: Release, values: dict[Var, int], equations: list[Equation[Var]], threshold: int
) -> Release:
    fixed = set(overall.values)
    hidden = suppress(
        values,
        equations,
        threshold,
        fixed_hidden=overall.hidden,
        fixed_published=fixed - overall.hidden,
        measures=_measures(values),
        cost=cost,
    )
    return Release(values, hidden, overall.specs)


# ---- report ----------------------------------------------------------------------------------


def _shown(release: Release, var: Var) -> int | None:
    return None if var in release.hidden else release.values.get(var, 0)


def _tables(release: Release, groups: Sequence[str]) -> list[Table]:
    tables: list[Table] = []
    for spec in release.specs:
        rows = []
        for group in [*groups, OVERALL]:
            cells = {c: _shown(release, (spec.name, group, c)) for c in spec.categories}
            total = _shown(release, (spec.total[0], group, spec.total[1]))
            rows.append(Row(group, cells, total))
        tables.append(Table(spec.name, spec.label, spec.unit, list(spec.categories), rows))
    return tables


def kth(durations: Durations, rank: int) -> int:
    """The ``rank``-th smallest duration (1-based)."""
    seen = 0
    for value in sorted(durations):
        seen += durations[value]
        if seen >= rank:
            return value
    raise ValueError("rank beyond the number of durations")


def delay(name: str, label: str, group: str, durations: Durations, threshold: int) -> Delay:
    """Median and nearest-rank 90th percentile, hidden below ``threshold`` durations."""
    count = sum(durations.values())
    if count < threshold:
        return Delay(name, label, group, None, None)
    middle = (kth(durations, (count + 1) // 2) + kth(durations, (count + 2) // 2)) / 2
    p90 = kth(durations, max(-(-9 * count // 10), 1))
    return Delay(name, label, group, round(middle / 10, 1), round(p90 / 10, 1))


def _rates(tables: Sequence[Table]) -> list[Rate]:
    by_name = {t.name: t for t in tables}
    found: list[Rate] = []
    for name, label, table, category in (
        ("taux_expiration", "Part des transmissions expirées", "etat_transmission", "expired"),
        (
            "taux_solution",
            "Part des personnes ayant trouvé une solution (orientations clôturées)",
            "issue",
            "solution_found",
        ),
    ):
        for row in by_name[table].rows:
            numerator, denominator = row.cells[category], row.total
            share = (
                round(numerator / denominator, 3) if numerator is not None and denominator else None
            )
            found.append(Rate(name, label, row.group, numerator, denominator, share))
    return found


def _means(release: Release, groups: Sequence[str]) -> list[Mean]:
    """Mean score of the evaluated referrals: shown when the sum behind it and the number of
    evaluations are both published (the second is closed minus not evaluated)."""
    found: list[Mean] = []
    for group in [*groups, OVERALL]:
        closed = _shown(release, ("statut", group, "closed"))
        unscored = _shown(release, ("evaluation", group, "sans_note"))
        total = _shown(release, ("evaluation", group, SCORE_SUM))
        count = closed - unscored if closed is not None and unscored is not None else None
        mean = round(total / count, 2) if total is not None and count else None
        found.append(
            Mean("note_moyenne", "Note moyenne donnée à la clôture (sur 5)", group, count, mean)
        )
    return found


def report(
    counts: Counts,
    threshold: int,
    grouping: Grouping,
    *,
    age_bands: Sequence[str],
    directory: Directory | None = None,
) -> Report:
    """The published statistics for one grouping (``none``: the overall row only)."""
    thematiques = sorted({c for p in counts.places.values() for t, c in p if t == "thematique"})
    specs = table_specs(thematiques, age_bands)
    overall_tally = _sum(counts.places.values())
    overall = protect_overall(specs, overall_tally, threshold)
    release = overall
    groups: list[str] = []
    delays_of: dict[str, dict[str, Durations]] = {
        OVERALL: {k: _merge(d.get(k) for d in counts.place_delays.values()) for _, _, k in DELAYS}
    }
    if grouping == "thematique":
        release = protect_thematiques(overall, counts, threshold)
        groups = [group_key("thematique", t) for t in thematiques]
        for t in thematiques:
            delays_of[group_key("thematique", t)] = counts.thematique_delays.get(t, {})
    elif grouping != "none":
        if directory is None:
            raise ValueError("place groupings need the directory's facts")
        release = protect_places(overall, counts, directory, threshold)
        members = place_members(counts.places, directory)[grouping]
        groups = list(members)
        for key, places in members.items():
            delays_of[key] = {
                k: _merge(counts.place_delays.get(p, {}).get(k) for p in places)
                for _, _, k in DELAYS
            }
    result = Report(threshold=threshold, groups=groups)
    result.tables = _tables(release, groups)
    result.rates = _rates(result.tables)
    result.means = _means(release, groups)
    for name, label, kind in DELAYS:
        for group in [*groups, OVERALL]:
            durations = delays_of.get(group, {}).get(kind) or Counter()
            result.delays.append(delay(name, label, group, durations, threshold))
    return result


def _merge(parts: Iterable[Durations | None]) -> Durations:
    merged: Durations = Counter()
    for part in parts:
        if part:
            merged.update(part)
    return merged
