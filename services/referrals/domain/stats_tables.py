"""What the statistics publish: the tables, their categories and French labels, and the linear
relations a reader knows between them (pure).

Every published count is a variable ``(table, group, category)``. Values that are the same
count wherever they appear share one variable: the row total of every table of referrals is the
number of referrals of the group; the outcomes and the evaluations of a group add up to its
closed referrals; the decline reasons to its declined handoffs. The relations a reader can
write down are equations between variables (:func:`row_equations`); the suppression in
``suppression.py`` keeps every hidden count out of their reach.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.referrals.domain.suppression import Equation
from services.referrals.domain.transitions import STATE_LABELS, HandoffState
from services.referrals.domain.vocabulary import (
    DECLINE_REASON_LABELS,
    Channel,
    DeclineReason,
    Outcome,
    Sex,
)

TOTAL = "*"
OVERALL = "*"
REFERRALS = "referrals"  # pseudo-table: the number of referrals of a group
HANDOFFS = "handoffs"  # pseudo-table: the number of handoffs of a group
SCORE_SUM = "sum"  # evaluation: the sum of the scores (the mean's numerator)
ALL_HANDOFFS = "all_handoffs"  # transmissions: handoffs of the group's referrals, all of them
BEYOND_TWO = "beyond"  # transmissions: handoffs of the referrals with three or more
NO_SCORE = "sans_note"
NO_FEEDBACK = "sans_avis"  # person's feedback: the person did not answer
FEEDBACK_LABELS = {
    "oui": "oui",
    "en_partie": "en partie",
    "non": "non",
    NO_FEEDBACK: "sans réponse",
}
SCORES = ("1", "2", "3", "4", "5")

Var = tuple[str, str, str]  # (table, group, category)
Tally = Counter[tuple[str, str]]  # (table, category) -> count, for one group


@dataclass(frozen=True)
class TableSpec:
    name: str
    label: str
    unit: str
    categories: tuple[str, ...]
    total: tuple[str, str]  # the variable (table, category) that the row total is
    additive: bool = True  # False: a unit may fall in several categories (thematiques)


STATUS_LABELS = {
    "in_progress": "en cours",
    "taken_over": "prise en charge",
    "closed": "clôturée",
    "withdrawn": "consentement retiré",
}
CHANNEL_LABELS = {
    Channel.WALK_IN: "accueil physique",
    Channel.PHONE: "téléphone",
    Channel.EMAIL: "courriel",
    Channel.OUTREACH: "aller-vers",
    Channel.PARTNER: "partenaire",
}
SEX_LABELS = {
    Sex.FEMALE: "femme",
    Sex.MALE: "homme",
    Sex.OTHER: "autre",
    Sex.UNKNOWN: "non renseigné",
}
OUTCOME_LABELS = {
    Outcome.SOLUTION_FOUND: "solution trouvée",
    Outcome.PARTIAL: "solution partielle",
    Outcome.NO_SOLUTION: "pas de solution",
    Outcome.DID_NOT_COME: "personne non venue",
}
RELAY_LABELS = {"1": "une", "2": "deux", "3+": "trois ou plus"}
SCORE_LABELS = {**{s: f"{s}/5" for s in SCORES}, NO_SCORE: "sans note"}
REFERRAL_STATUSES = tuple(STATUS_LABELS)
HANDOFF_STATES = tuple(s.value for s in HandoffState)
RELAY_BANDS = tuple(RELAY_LABELS)

_BAND = re.compile(r"^(?:under_(\d+)|(\d+)_(\d+)|(\d+)_plus|unknown)$")


def age_band_label(code: str) -> str:
    """« moins de 18 ans », « 18 à 25 ans », « 75 ans et plus », « non renseigné »."""
    found = _BAND.match(code)
    if found is None:
        return code
    under, low, high, plus = found.groups()
    if under:
        return f"moins de {under} ans"
    if low:
        return f"{low} à {high} ans"
    if plus:
        return f"{plus} ans et plus"
    return "non renseigné"


def category_labels(
    age_bands: Sequence[str], thematique_label: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """French label of each category of each table."""
    return {
        "statut": STATUS_LABELS,
        "thematique": dict(thematique_label),
        "canal": {str(k): v for k, v in CHANNEL_LABELS.items()},
        "tranche_age": {b: age_band_label(b) for b in age_bands},
        "sexe": {str(k): v for k, v in SEX_LABELS.items()},
        "issue": {str(k): v for k, v in OUTCOME_LABELS.items()},
        "evaluation": SCORE_LABELS,
        "avis_personne": FEEDBACK_LABELS,
        "transmissions": RELAY_LABELS,
        "etat_transmission": {str(k): v for k, v in STATE_LABELS.items()},
        "motif_refus": {str(k): v for k, v in DECLINE_REASON_LABELS.items()},
    }


def table_specs(thematiques: Sequence[str], age_bands: Sequence[str]) -> list[TableSpec]:
    """The published tables, in order: referrals first, then handoffs."""
    people = (REFERRALS, TOTAL)
    return [
        TableSpec("statut", "Orientations par statut", "orientations", REFERRAL_STATUSES, people),
        TableSpec(
            "thematique",
            "Orientations par thématique (une orientation peut en avoir plusieurs)",
            "orientations",
            tuple(thematiques),
            people,
            additive=False,
        ),
        TableSpec(
            "canal",
            "Orientations par canal d'arrivée",
            "orientations",
            tuple(c.value for c in Channel),
            people,
        ),
        TableSpec(
            "tranche_age",
            "Orientations par tranche d'âge",
            "orientations",
            tuple(age_bands),
            people,
        ),
        TableSpec(
            "sexe", "Orientations par sexe", "orientations", tuple(s.value for s in Sex), people
        ),
        TableSpec(
            "issue",
            "Issue des orientations clôturées",
            "orientations clôturées",
            tuple(o.value for o in Outcome),
            ("statut", "closed"),
        ),
        TableSpec(
            "evaluation",
            "Évaluation recueillie à la clôture",
            "orientations clôturées",
            (*SCORES, NO_SCORE),
            ("statut", "closed"),
        ),
        TableSpec(
            "avis_personne",
            "Avis de la personne : « Avez-vous trouvé une solution ? »",
            "orientations clôturées",
            tuple(FEEDBACK_LABELS),
            ("statut", "closed"),
        ),
        TableSpec(
            "transmissions",
            "Nombre de transmissions par orientation",
            "orientations",
            RELAY_BANDS,
            people,
        ),
        TableSpec(
            "etat_transmission",
            "Transmissions par état",
            "transmissions",
            HANDOFF_STATES,
            (HANDOFFS, TOTAL),
        ),
        TableSpec(
            "motif_refus",
            "Motifs de refus",
            "transmissions refusées",
            tuple(d.value for d in DeclineReason),
            ("etat_transmission", "declined"),
        ),
    ]


def cells_of(spec: TableSpec) -> list[tuple[str, str]]:
    """The (table, category) of each cell of ``spec``, and of its total."""
    return [*((spec.name, c) for c in spec.categories), spec.total]


def row_values(specs: Sequence[TableSpec], group: str, tally: Tally) -> dict[Var, int]:
    """Every variable of one group's row, with its value (zero when absent)."""
    values: dict[Var, int] = {}
    for spec in specs:
        for table, category in cells_of(spec):
            values[(table, group, category)] = tally[(table, category)]
    values[("evaluation", group, SCORE_SUM)] = tally[("evaluation", SCORE_SUM)]
    return values


def row_equations(specs: Sequence[TableSpec], group: str, tally: Tally) -> list[Equation[Var]]:
    """What a reader knows links the values of one group's row.

    Always: each additive table's cells add up to its total; the scores weighted by their value
    add up to the sum behind the mean. When they hold for this row (a reader may know they do):
    closed and taken-over referrals are as many as closed and taken-over handoffs (the handoff
    that took a person over is the referral's last); with no referral of three handoffs or
    more, one-handoff referrals plus twice the two-handoff ones are the handoffs.
    """
    equations: list[Equation[Var]] = []
    for spec in specs:
        if spec.additive:
            total = (spec.total[0], group, spec.total[1])
            equations.append([*(((spec.name, group, c), 1) for c in spec.categories), (total, -1)])
    equations.append(
        [
            *((("evaluation", group, s), int(s)) for s in SCORES),
            (("evaluation", group, SCORE_SUM), -1),
        ]
    )
    for state in ("closed", "taken_over"):
        if tally[("statut", state)] == tally[("etat_transmission", state)]:
            equations.append(
                [(("statut", group, state), 1), (("etat_transmission", group, state), -1)]
            )
    if (
        tally[("transmissions", BEYOND_TWO)] == 0
        and tally[("transmissions", ALL_HANDOFFS)] == tally[(HANDOFFS, TOTAL)]
    ):
        equations.append(
            [
                (("transmissions", group, "1"), 1),
                (("transmissions", group, "2"), 2),
                ((HANDOFFS, group, TOTAL), -1),
            ]
        )
    return equations


def nest_equations(
    columns: Iterable[tuple[str, str]], parent: str, children: Sequence[str]
) -> list[Equation[Var]]:
    """A parent group is the sum of its children, value by value."""
    return [
        [*(((table, child, category), 1) for child in children), ((table, parent, category), -1)]
        for table, category in columns
    ]


def cost(var: Var) -> int:
    """Order in which values are hidden as complements: the sum behind a mean first, then
    cells, totals last."""
    table, _, category = var
    if category == SCORE_SUM:
        return 0
    if category == TOTAL or table in (REFERRALS, HANDOFFS):
        return 2
    return 1
