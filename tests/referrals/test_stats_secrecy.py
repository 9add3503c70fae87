"""Statistical secrecy, attacked: random networks and referrals, every grouping asked for, and
a reader who writes down every relation between the published values (row and column totals,
shared totals between tables, ties between tables, the mean, sums of groups into their parents
known from the directory, the same overall row in every answer) and solves them exactly. No
hidden value may come out. The solver here is independent of the one in ``suppression.py``
(fractions, not modular arithmetic)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.referrals.domain import stats as domain
from services.referrals.domain.stats_tables import (
    ALL_HANDOFFS,
    BEYOND_TWO,
    NO_FEEDBACK,
    NO_SCORE,
    REFERRALS,
    SCORE_SUM,
    TOTAL,
)
from services.referrals.domain.suppression import determined, suppress
from services.referrals.stats.load import _add_handoffs

BANDS = ("under_18", "18_25", "26_plus", "unknown")
GROUPINGS: tuple[domain.Grouping, ...] = (
    "none",
    "service",
    "structure",
    "territory",
    "service_type",
    "thematique",
)
PEOPLE_TABLES = ("statut", "thematique", "canal", "tranche_age", "sexe", "transmissions")
ADDITIVE = (
    "statut",
    "canal",
    "tranche_age",
    "sexe",
    "issue",
    "evaluation",
    "transmissions",
    "etat_transmission",
    "motif_refus",
)


@dataclass(frozen=True)
class World:
    places: list[domain.Place]
    directory: domain.Directory
    thematiques: list[str]


@dataclass(frozen=True)
class Referral:
    place: domain.Place  # of its last handoff
    earlier: tuple[tuple[domain.Place, str], ...]  # earlier handoffs: place, state
    status: str
    last_state: str
    channel: str
    age_band: str
    sex: str
    outcome: str | None
    score: int | None
    thematiques: tuple[str, ...]
    feedback: str | None = None


@st.composite
def worlds(draw: st.DrawFn) -> World:
    places: list[domain.Place] = []
    territory: dict[str, str] = {}
    kind: dict[str, str] = {}
    for s in range(draw(st.integers(1, 4))):
        structure = f"s{s}"
        territory[structure] = draw(st.sampled_from(["26", "07"]))
        if draw(st.booleans()):
            places.append(domain.Place(structure, None))
        for v in range(draw(st.integers(0, 2))):
            service = f"{structure}v{v}"
            places.append(domain.Place(structure, service))
            kind[service] = draw(st.sampled_from(["accompagnement", "atelier"]))
    if not places:
        places.append(domain.Place("s0", None))
    themes = ["logement", "sante", "emploi"][: draw(st.integers(1, 3))]
    return World(places, domain.Directory(territory, kind), themes)


@st.composite
def referrals(draw: st.DrawFn, world: World) -> Referral:
    status = draw(st.sampled_from(["in_progress", "taken_over", "closed", "withdrawn"]))
    last_state = {
        "in_progress": draw(st.sampled_from(["sent", "acknowledged", "accepted", "expired"])),
        "taken_over": "taken_over",
        "closed": "closed",
        "withdrawn": draw(st.sampled_from(["cancelled", "closed"])),
    }[status]
    earlier = draw(
        st.lists(
            st.tuples(st.sampled_from(world.places), st.sampled_from(["declined", "relayed"])),
            max_size=3,
        )
    )
    closed = status == "closed"
    return Referral(
        place=draw(st.sampled_from(world.places)),
        earlier=tuple(earlier),
        status=status,
        last_state=last_state,
        channel=draw(st.sampled_from(["walk_in", "phone"])),
        age_band=draw(st.sampled_from(BANDS)),
        sex=draw(st.sampled_from(["female", "male"])),
        outcome=draw(st.sampled_from(["solution_found", "no_solution"])) if closed else None,
        score=draw(st.one_of(st.none(), st.integers(1, 5))) if closed else None,
        feedback=draw(st.sampled_from([None, "oui", "en_partie", "non"])) if closed else None,
        thematiques=tuple(
            draw(st.lists(st.sampled_from(world.thematiques), min_size=1, unique=True))
        ),
    )


def _add_referrals(
    tally: Counter[tuple[str, str]], row: SimpleNamespace, bands: frozenset[str]
) -> None:
    """One referral's counts, as the loader's sums count them (``referral_cells``)."""
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


def count(world: World, people: Sequence[Referral]) -> domain.Counts:
    """What the database would count, through the loader's own tallying."""
    counts = domain.Counts()
    for person in people:
        handoffs = [*person.earlier, (person.place, person.last_state)]
        row = SimpleNamespace(
            n=1,
            handoffs=len(handoffs),
            status=person.status,
            channel=person.channel,
            age_band=person.age_band,
            sex=person.sex,
            outcome=person.outcome,
            evaluation_score=person.score,
            person_feedback=person.feedback,
        )
        _add_referrals(counts.places.setdefault(person.place, Counter()), row, frozenset(BANDS))
        for theme in person.thematiques:
            tally = counts.thematiques.setdefault(theme, Counter())
            _add_referrals(tally, row, frozenset(BANDS))
            for other in person.thematiques:
                tally[("thematique", other)] += 1
        for theme in world.thematiques:
            if theme in person.thematiques:
                counts.places[person.place][("thematique", theme)] += 1
        for place, state in handoffs:
            handoff = SimpleNamespace(n=1, state=state, decline_reason="no_capacity")
            _add_handoffs(counts.places.setdefault(place, Counter()), handoff)
            for theme in person.thematiques:
                _add_handoffs(counts.thematiques[theme], handoff)
    return counts


# ---- the reader ------------------------------------------------------------------------------

Tally = Counter[tuple[str, str]]
Key = tuple[str, str, str, str]  # (table, grouping, group, category); overall: grouping "*"


class Reader:
    """Everything published, and the linear relations between the values behind it."""

    def __init__(self) -> None:
        self.known: dict[Key, int] = {}
        self.unknown: set[Key] = set()
        self.equations: list[tuple[dict[Key, int], int]] = []  # sum(c * x) == constant

    def see(self, key: Key, value: int | None) -> None:
        if value is None:
            self.unknown.add(key)
        else:
            assert self.known.setdefault(key, value) == value, f"{key} published twice unlike"

    def relate(self, terms: Iterable[tuple[Key, int]], constant: int = 0) -> None:
        equation: Counter[Key] = Counter()
        for key, coefficient in terms:
            equation[key] += coefficient
        self.equations.append((dict(equation), constant))

    def recoverable(self) -> set[Key]:
        """Hidden values the equations pin down (exact rational elimination)."""
        unknown = sorted(self.unknown)
        index = {k: i for i, k in enumerate(unknown)}
        rows: list[dict[int, Fraction]] = []
        for terms, _ in self.equations:
            row = {index[k]: Fraction(c) for k, c in terms.items() if k in index and c}
            if row:
                rows.append(row)
        pivots: dict[int, dict[int, Fraction]] = {}
        for row in rows:
            for var in [v for v in row if v in pivots]:
                factor = row.pop(var)
                for k, c in pivots[var].items():
                    if k != var:
                        row[k] = row.get(k, Fraction(0)) - factor * c
                        if not row[k]:
                            del row[k]
            if not row:
                continue
            pivot = min(row)
            scale = row[pivot]
            row = {k: c / scale for k, c in row.items()}
            for other in pivots.values():
                factor = other.pop(pivot, None)
                if factor:
                    for k, c in row.items():
                        if k != pivot:
                            other[k] = other.get(k, Fraction(0)) - factor * c
                            if not other[k]:
                                del other[k]
            pivots[pivot] = row
        return {unknown[v] for v, row in pivots.items() if len(row) == 1}


def key_of(grouping: str, group: str, table: str, category: str) -> Key:
    return (table, "*", "*", category) if group == "*" else (table, grouping, group, category)


def read(reader: Reader, grouping: str, report: domain.Report, rows: dict[str, Tally]) -> None:
    tables = {t.name: t for t in report.tables}
    for table in report.tables:
        for row in table.rows:
            group = domain.group_ident(row.group)
            for category, value in row.cells.items():
                reader.see(key_of(grouping, group, table.name, category), value)
            reader.see(key_of(grouping, group, table.name, "*"), row.total)
    for row in tables["statut"].rows:
        group = domain.group_ident(row.group)

        def k(table: str, category: str, group: str = group) -> Key:
            return key_of(grouping, group, table, category)

        for table in ADDITIVE:
            cells = tables[table].categories
            reader.relate([*((k(table, c), 1) for c in cells), (k(table, "*"), -1)])
        for table in PEOPLE_TABLES[1:]:
            reader.relate([(k(table, "*"), 1), (k("statut", "*"), -1)])
        for table in ("issue", "evaluation"):
            reader.relate([(k(table, "*"), 1), (k("statut", "closed"), -1)])
        reader.relate([(k("motif_refus", "*"), 1), (k("etat_transmission", "declined"), -1)])
        truth = rows[group]
        for state in ("closed", "taken_over"):
            if truth[("statut", state)] == truth[("etat_transmission", state)]:
                reader.relate([(k("statut", state), 1), (k("etat_transmission", state), -1)])
        if (
            truth[("transmissions", "beyond")] == 0
            and truth[("transmissions", "all_handoffs")] == truth[("handoffs", "*")]
        ):
            reader.relate(
                [
                    (k("transmissions", "1"), 1),
                    (k("transmissions", "2"), 2),
                    (k("etat_transmission", "*"), -1),
                ]
            )
        mean = next(m for m in report.means if m.group == row.group)
        if mean.count is not None:
            reader.relate(
                [(k("statut", "closed"), 1), (k("evaluation", "sans_note"), -1)], mean.count
            )
        if mean.mean is not None and mean.count is not None:
            total = round(mean.mean * mean.count)
            reader.relate([(k("evaluation", s), int(s)) for s in "12345"], total)
        if grouping == "thematique" and row.group != "*":
            reader.relate([(k("statut", "*"), 1), (key_of("*", "*", "thematique", group), -1)])
            reader.relate([(k("thematique", group), 1), (k("statut", "*"), -1)])
            for other in tables["thematique"].categories:
                mirror = key_of(grouping, other, "thematique", group)
                reader.relate([(k("thematique", other), 1), (mirror, -1)])


def rows_of(grouping: str, counts: domain.Counts, world: World) -> dict[str, Tally]:
    """The true counts of each row of an answer, by group id."""
    rows: dict[str, Tally] = {"*": Counter()}
    for tally in counts.places.values():
        rows["*"].update(tally)
    if grouping == "thematique":
        rows.update(counts.thematiques)
    elif grouping != "none":
        members = domain.place_members(counts.places, world.directory)[grouping]
        for key, places in members.items():
            row: Tally = Counter()
            for place in places:
                row.update(counts.places[place])
            rows[domain.group_ident(key)] = row
    return rows


def relate_groupings(reader: Reader, world: World, counts: domain.Counts) -> None:
    """Groups add up into their parents, as anyone reading the directory knows."""
    members = domain.place_members(counts.places, world.directory)
    idents = {g: {k: domain.group_ident(k) for k in m} for g, m in members.items()}
    columns = {(k[0], k[3]) for k in [*reader.known, *reader.unknown] if k[1] == "*"}

    def add(children: list[tuple[str, str]], parent: tuple[str, str]) -> None:
        for table, category in columns:
            reader.relate(
                [
                    *((key_of(g, c, table, category), 1) for g, c in children),
                    (key_of(parent[0], parent[1], table, category), -1),
                ]
            )

    service_of = {p: idents["service"][k] for k, ps in members["service"].items() for p in ps}
    for grouping in ("territory", "service_type"):
        add([(grouping, i) for i in idents[grouping].values()], ("*", "*"))
    for key, places in members["territory"].items():
        structures = sorted({p.structure for p in places})
        add([("structure", s) for s in structures], ("territory", idents["territory"][key]))
    for grouping in ("structure", "service_type"):
        for key, places in members[grouping].items():
            services = sorted({service_of[p] for p in places})
            add([("service", s) for s in services], (grouping, idents[grouping][key]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.integers(min_value=2, max_value=5))
def test_no_hidden_count_can_be_recomputed_from_every_answer(
    data: st.DataObject, threshold: int
) -> None:
    world = data.draw(worlds())
    people = data.draw(st.lists(referrals(world), max_size=30))
    counts = count(world, people)
    reader = Reader()
    small: set[Key] = set()
    for grouping in GROUPINGS:
        report = domain.report(
            counts, threshold, grouping, age_bands=BANDS, directory=world.directory
        )
        rows = rows_of(grouping, counts, world)
        truth = _published_truth(grouping, rows)
        read(reader, grouping, report, rows)
        for key, value in truth.items():
            shown = reader.known.get(key)
            assert shown is None or shown == value, f"{key}: published {shown}, true {value}"
            if 0 < value < threshold:
                assert key in reader.unknown, f"small count {key} = {value} published"
                small.add(key)
    relate_groupings(reader, world, counts)
    recovered = reader.recoverable()
    assert not recovered, f"recomputed from the published values: {sorted(recovered)}"
    assert small <= reader.unknown


def _published_truth(grouping: str, rows: dict[str, Tally]) -> dict[Key, int]:
    """True value of every cell of the additive tables of an answer."""
    truth: dict[Key, int] = {}
    for group, tally in rows.items():
        for (table, category), value in tally.items():
            if table in ADDITIVE and category in _categories(table):
                truth[key_of(grouping, group, table, category)] = value
    return truth


def _categories(table: str) -> set[str]:
    specs = {s.name: s for s in domain.table_specs([], BANDS)}
    return set(specs[table].categories)


# ---- the engine alone ------------------------------------------------------------------------


def test_a_bridge_between_two_hidden_blocks_is_protected() -> None:
    """Hidden cells forming two 2×2 blocks joined by one more hidden cell: every row and column
    holds two hidden cells, yet the joining cell is the sum of its block's row minus its column
    (summing the block's equations). The cheap rule misses it; the exact audit does not."""
    rows, columns = ["a", "b", "c", "d", "e"], ["1", "2", "3", "4", "5"]
    values = {(r, c): 20 for r in rows for c in columns}
    for r, c in [("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")]:
        values[(r, c)] = 2
    for r, c in [("c", "3"), ("c", "4"), ("d", "3"), ("d", "4")]:
        values[(r, c)] = 3
    values[("b", "3")] = 1
    equations: list[list[tuple[tuple[str, str], int]]] = []
    for r in rows:
        values[(r, "*")] = sum(values[(r, c)] for c in columns)
        equations.append([*(((r, c), 1) for c in columns), ((r, "*"), -1)])
    for c in [*columns, "*"]:
        values[("*", c)] = sum(values[(r, c)] for r in rows)
        equations.append([*(((r, c), 1) for r in rows), (("*", c), -1)])
    hidden = suppress(values, equations, 5)
    assert determined(equations, hidden) == set()
    assert {k for k, v in values.items() if 0 < v < 5} <= hidden
    bridged = {k for k, v in values.items() if 0 < v < 5}
    assert determined(equations, bridged) == {("b", "3")}  # what the cheap rule would publish


def test_values_fixed_by_a_wider_answer_are_kept() -> None:
    """The overall row, fixed as published, is never taken as a complement."""
    values = {"a": 3, "b": 10, "t": 13}
    equations = [[("a", 1), ("b", 1), ("t", -1)]]
    assert suppress(values, equations, 5) == {"a", "b"}
    assert suppress(values, equations, 5, fixed_published={"b"}) == {"a", "t"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.integers(min_value=2, max_value=5))
def test_nested_tables_keep_every_small_count_out_of_reach(
    data: st.DataObject, threshold: int
) -> None:
    """Random tables whose children add up to a parent, cell by cell, and a weighted sum over a
    row (as the scores make the mean): many small counts, determined in many ways at once (one
    complement often frees several of them, and a complement found for one is reused for the
    next). Whatever the suppression hides, the independent solver recomputes none of it."""
    rows = [f"r{i}" for i in range(data.draw(st.integers(1, 4)))]
    columns = [f"c{i}" for i in range(data.draw(st.integers(1, 4)))]
    children = [f"k{i}" for i in range(data.draw(st.integers(1, 3)))]
    cell = st.integers(0, 3 * threshold)
    values: dict[Key, int] = {}
    for child in children:
        for r in rows:
            for c in columns:
                values[("t", child, r, c)] = data.draw(cell)
    for child in [*children, "parent"]:
        parts = children if child == "parent" else [child]
        for r in [*rows, "*"]:
            for c in [*columns, "*"]:
                values[("t", child, r, c)] = sum(
                    values[("t", k, rr, cc)]
                    for k in parts
                    for rr in (rows if r == "*" else [r])
                    for cc in (columns if c == "*" else [c])
                )
        values[("w", child, rows[0], "*")] = sum(
            (i + 1) * values[("t", child, rows[0], c)] for i, c in enumerate(columns)
        )
    equations: list[list[tuple[Key, int]]] = []
    for child in [*children, "parent"]:
        for r in [*rows, "*"]:
            equations.append(
                [*((("t", child, r, c), 1) for c in columns), (("t", child, r, "*"), -1)]
            )
        for c in [*columns, "*"]:
            equations.append([*((("t", child, r, c), 1) for r in rows), (("t", child, "*", c), -1)])
        weighted = [(("t", child, rows[0], c), i + 1) for i, c in enumerate(columns)]
        equations.append([*weighted, (("w", child, rows[0], "*"), -1)])
    for r in [*rows, "*"]:
        for c in [*columns, "*"]:
            equations.append(
                [*((("t", k, r, c), 1) for k in children), (("t", "parent", r, c), -1)]
            )
    measures = {k for k in values if k[0] == "w"}
    hidden = suppress(values, equations, threshold, measures=measures)
    small = {k for k, v in values.items() if 0 < v < threshold and k not in measures}
    assert small <= hidden
    reader = Reader()
    for key, value in values.items():
        reader.see(key, None if key in hidden else value)
    for equation in equations:
        reader.relate(equation)
    recovered = reader.recoverable()
    assert not recovered, f"recomputed from the published values: {sorted(recovered)}"
