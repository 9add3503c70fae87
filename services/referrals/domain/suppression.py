"""Small-cell suppression with complementary suppression (statistical secrecy), pure.

A published table is a set of values linked by additive equations (cells of a row add up to the
row total, cells of a column to the column total, totals to the grand total). Primary
suppression hides every count from 1 to ``threshold - 1``. That alone is not enough: if an
equation has exactly one hidden member, the member equals the published total minus the other
published members. Complementary suppression then hides one more member of that equation, the
smallest non-zero published cell (a total only when no cell can go). Hiding one value can expose
another equation, so this repeats until no equation has exactly one hidden member. Zero counts
are published; they are not small cells.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def suppress(
    values: Mapping[K, int],
    equations: Sequence[Sequence[K]],
    threshold: int,
    *,
    totals: frozenset[K] | set[K] = frozenset(),
) -> set[K]:
    """Keys to hide. ``equations``: groups of keys whose values are linked by a sum (the total
    and its parts); ``totals``: keys that are totals, hidden last when a complement is needed."""
    hidden = {key for key, value in values.items() if 0 < value < threshold}
    changed = True
    while changed:
        changed = False
        for equation in equations:
            unknown = [key for key in equation if key in hidden]
            if len(unknown) != 1:
                continue
            candidates = [key for key in equation if key not in hidden]
            if not candidates:
                continue
            candidates.sort(key=lambda k: (k in totals, values[k] == 0, values[k], str(k)))
            hidden.add(candidates[0])
            changed = True
    return hidden


def grid_equations(
    rows: Sequence[str], columns: Sequence[str], *, additive: bool = True
) -> tuple[list[list[tuple[str, str]]], set[tuple[str, str]]]:
    """Equations of a rows × columns table with margins: keys ``(row, column)``, row totals
    ``(row, "*")``, column totals ``("*", column)`` and the grand total ``("*", "*")``.

    ``additive=False`` when a unit may count in several columns (e.g. several thematiques per
    referral): columns then do not add up to the row total, only rows to the column totals.
    """
    equations: list[list[tuple[str, str]]] = []
    all_rows = [*rows, "*"]
    for column in [*columns, "*"] if additive else columns:
        equations.append([*((r, column) for r in rows), ("*", column)])
    if additive:
        for row in all_rows:
            equations.append([*((row, c) for c in columns), (row, "*")])
    totals = {(r, "*") for r in all_rows} | {("*", c) for c in columns}
    return equations, totals
