"""Small-cell suppression with complementary suppression (statistical secrecy), pure.

What one publishes is a set of counts linked by linear equations: the cells of a row add up to
its total, the rows of a group to their parent, two tables share a total, a mean is a weighted
sum of a distribution's cells. Primary suppression hides every count from 1 to
``threshold - 1``. That alone is not enough: whoever reads the published values can solve the
equations for a hidden one (a total minus the other cells, a difference between two tables, a
sum across groups). Complementary suppression hides more values until no hidden value is
determined by the published ones.

"Determined" is decided exactly: the equations restricted to the hidden values are brought to
reduced row echelon form (modulo a 61-bit prime); a hidden value is determined when its reduced
row holds no other hidden value. An equation with a single hidden value first gets a second one
(the cheap rule). Then the hidden columns form one basis, and for each determined sensitive
value published columns near it are reduced against that basis, from the cheapest, until one is
a combination that uses the value (it then varies with the others): the published values of that
combination are hidden (they may free other determined values at once), and the audit runs again
until no sensitive value is determined. Each pass is one elimination over the hidden values plus
a reduction per tried complement, not one elimination per determined value. Hidden values that
are not sensitive and are determined anyway (ineffective complements) are then published: they
reveal nothing new. Zero counts are published; they are not small cells.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Container, Hashable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
H = TypeVar("H", bound=Hashable)
Equation = Sequence[tuple[K, int]]  # sum(coefficient * value) == 0

_PRIME = (1 << 61) - 1


class SuppressionError(RuntimeError):
    """A sensitive value is determined by values that may not be hidden: nothing can be
    published safely (the fixed values of a wider answer were not protected)."""


def _subtract(row: dict[H, int], other: Mapping[H, int], factor: int) -> None:
    """row -= factor * other, modulo the prime, dropping zeros."""
    for var, coefficient in other.items():
        value = (row.get(var, 0) - factor * coefficient) % _PRIME
        if value:
            row[var] = value
        else:
            row.pop(var, None)


def determined(equations: Iterable[Equation[K]], hidden: set[K]) -> set[K]:
    """Hidden values that the published ones determine, through any combination of equations."""
    index: dict[K, int] = {}
    keys: list[K] = []
    rows: list[list[tuple[int, int]]] = []
    for equation in equations:
        row: list[tuple[int, int]] = []
        for key, coefficient in equation:
            if key in hidden:
                var = index.get(key)
                if var is None:
                    var = index[key] = len(keys)
                    keys.append(key)
                row.append((var, coefficient))
        rows.append(row)
    return {keys[var] for var in _determined(rows, range(len(keys)))}


def _determined(rows: Iterable[Sequence[tuple[int, int]]], hidden: Container[int]) -> set[int]:
    """``determined`` on numbered values."""
    restricted: list[dict[int, int]] = []
    for equation in rows:
        row: dict[int, int] = {}
        for var, coefficient in equation:
            if var in hidden:
                row[var] = (row.get(var, 0) + coefficient) % _PRIME
        row = {v: c for v, c in row.items() if c}
        if row:
            restricted.append(row)
    return {var for var, row in _reduced(restricted).items() if len(row) == 1}


def _reduced(rows: list[dict[int, int]]) -> dict[int, dict[int, int]]:
    """Reduced row echelon form: pivot variable -> its row (pivot coefficient 1, no other pivot
    variable in it). Short rows first and the least shared pivot keep the fill small."""
    pivots: dict[int, dict[int, int]] = {}
    holders: defaultdict[int, set[int]] = defaultdict(set)  # free variable -> pivots using it
    for original in sorted(rows, key=len):
        row = dict(original)
        for var in [v for v in row if v in pivots]:
            factor = row.get(var)
            if factor:
                _subtract(row, pivots[var], factor)
        if not row:
            continue
        pivot = min(row, key=lambda v: (len(holders.get(v, ())), v))
        inverse = pow(row[pivot], _PRIME - 2, _PRIME)
        row = {v: c * inverse % _PRIME for v, c in row.items()}
        for other in list(holders.pop(pivot, ())):
            target = pivots[other]
            factor = target.pop(pivot, 0)
            before = set(target)
            _subtract(target, {v: c for v, c in row.items() if v != pivot}, factor)
            for var in before - set(target):
                holders[var].discard(other)
            for var in set(target) - before:
                holders[var].add(other)
        pivots[pivot] = row
        for var in row:
            if var != pivot:
                holders[var].add(pivot)
    return pivots


class _Echelon:
    """Sparse vectors in echelon form, in insertion order (each reduced against the earlier
    pivots, so one pass in that order reduces any vector), with what each is made of."""

    def __init__(self, weight: Callable[[int], int]) -> None:
        self.weight = weight  # pivots on short equations first: less fill
        self.rows: list[tuple[int, dict[int, int], dict[Any, int]]] = []
        self.at: dict[int, int] = {}  # pivot -> position in rows

    def reduce(self, vector: dict[int, int], history: dict[Any, int]) -> None:
        queue = [self.at[p] for p in vector if p in self.at]
        heapq.heapify(queue)
        queued = set(queue)
        while queue:
            pivot, row, made_of = self.rows[heapq.heappop(queue)]
            factor = vector.get(pivot)
            if not factor:
                continue
            _subtract(vector, row, factor)
            _subtract(history, made_of, factor)
            for var in row:
                later = self.at.get(var)
                if later is not None and later not in queued and vector.get(var):
                    queued.add(later)
                    heapq.heappush(queue, later)

    def truncate(self, length: int) -> None:
        """Forget the vectors added after the first ``length``."""
        for pivot, _, _ in self.rows[length:]:
            del self.at[pivot]
        del self.rows[length:]

    def add(self, vector: dict[int, int], history: dict[Any, int]) -> bool:
        """Reduce and keep ``vector``; False when it was in the span already."""
        self.reduce(vector, history)
        if not vector:
            return False
        pivot = min(vector, key=lambda e: (self.weight(e), e))
        inverse = pow(vector[pivot], _PRIME - 2, _PRIME)
        self.at[pivot] = len(self.rows)
        self.rows.append(
            (
                pivot,
                {k: v * inverse % _PRIME for k, v in vector.items()},
                {k: v * inverse % _PRIME for k, v in history.items()},
            )
        )
        return True


class Suppression(Generic[K]):
    """Values, the equations linking them, and which of them may not change (published or
    hidden by a wider answer that this one must agree with). Values are numbered in the order
    given; the equations hold their numbers."""

    def __init__(
        self,
        values: Mapping[K, int],
        equations: Sequence[Equation[K]],
        threshold: int,
        *,
        fixed_hidden: Iterable[K] = (),
        fixed_published: Iterable[K] = (),
        measures: Iterable[K] = (),
        cost: Callable[[K], int] = lambda _: 1,
    ) -> None:
        self.keys: list[K] = list(values)
        number = {key: var for var, key in enumerate(self.keys)}
        self.values = [values[key] for key in self.keys]
        self.equations = [[(number[k], c) for k, c in e] for e in equations]
        self.threshold = threshold
        self.fixed_hidden = {number[k] for k in fixed_hidden if k in number}
        self.fixed = self.fixed_hidden | {number[k] for k in fixed_published if k in number}
        self.measures = {number[k] for k in measures if k in number}
        self.cost = cost
        self.by_var: list[list[tuple[int, int]]] = [[] for _ in self.keys]
        for row, equation in enumerate(self.equations):
            for var, coefficient in equation:
                self.by_var[var].append((row, coefficient))

    def sensitive(self, var: int) -> bool:
        if var in self.fixed_hidden:
            return True
        return var not in self.measures and 0 < self.values[var] < self.threshold

    def weight(self, var: int) -> tuple[int, bool, int, str]:
        """Order of complements: tier first, then non-zero before zero (a hidden zero is easily
        guessed), then the smallest."""
        value, key = self.values[var], self.keys[var]
        return (self.cost(key), value == 0, value, repr(key))

    def run(self) -> set[K]:
        hidden = {v for v in range(len(self.keys)) if self.sensitive(v)}
        if any(v in self.fixed and v not in self.fixed_hidden for v in hidden):
            raise SuppressionError("a small count is among the values fixed as published")
        # The hidden values found free so far: hiding more never determines them again, so
        # they form a basis once and later audits look only at the other hidden values.
        sizes = [len(e) for e in self.equations]
        free = _Echelon(sizes.__getitem__)
        in_free: set[int] = set()
        found: set[int] | None = None
        while True:
            self._singletons(hidden)
            if found is None:
                found = _determined(self.equations, hidden)
            else:
                found = self._audit(free, hidden - in_free)
            exposed = sorted((v for v in found if self.sensitive(v)), key=self._name)
            if not exposed:
                # Complements that protect nothing are derived from published values anyway.
                return {self.keys[v] for v in hidden - found}
            for var in sorted(hidden - found - in_free, key=self._name):
                free.add(self._column(var), {})
                in_free.add(var)
            hidden |= self._circuits(exposed, sorted(found, key=self._name), hidden, free)

    def _audit(self, free: _Echelon, candidates: set[int]) -> set[int]:
        """The values of ``candidates`` that the published ones determine, the other hidden
        values being the columns of ``free``: a candidate is determined when no combination
        of the hidden columns that adds up to zero uses it."""
        mark = len(free.rows)
        used: set[int] = set()
        independent: set[int] = set()
        for var in sorted(candidates, key=self._name):
            history = {var: 1}
            if free.add(self._column(var), history):
                independent.add(var)
            else:
                used |= set(history)
        free.truncate(mark)
        return independent - used

    def _name(self, var: int) -> str:
        return repr(self.keys[var])

    def _hideable(self, var: int, hidden: set[int]) -> bool:
        return var not in hidden and var not in self.fixed

    def _singletons(self, hidden: set[int]) -> None:
        """The cheap rule first: an equation with exactly one hidden value gets a second one.
        Each equation is looked at again only when one of its values gets hidden."""
        counts = [sum(1 for v, _ in e if v in hidden) for e in self.equations]
        pending = [n for n, c in enumerate(counts) if c == 1]
        heapq.heapify(pending)
        while pending:
            number = heapq.heappop(pending)
            if counts[number] != 1:
                continue
            candidates = [v for v, _ in self.equations[number] if self._hideable(v, hidden)]
            if not candidates:
                continue
            var = min(candidates, key=self.weight)
            hidden.add(var)
            for other, _ in self.by_var[var]:
                counts[other] += 1
                if counts[other] == 1:
                    heapq.heappush(pending, other)

    def _column(self, var: int) -> dict[int, int]:
        column: dict[int, int] = {}
        for number, coefficient in self.by_var[var]:
            column[number] = (column.get(number, 0) + coefficient) % _PRIME
        return {n: c for n, c in column.items() if c}

    def _circuits(
        self, exposed: list[int], found: list[int], hidden: set[int], free: _Echelon
    ) -> set[int]:
        """Published values to hide so that no value of ``exposed`` stays determined.

        A hidden value is determined when its column (its coefficients in the equations) is
        not a combination of the other hidden columns. The hidden columns form one basis, the
        exposed ones remembering where they are used; for each exposed value still determined,
        published columns one equation away from it, from the cheapest, then two equations
        away, and so on, are reduced against that basis until one is a combination that uses
        the exposed value: the exposed value then varies with the others. The published columns
        of that combination are hidden, and every exposed value it uses is freed with them.
        Each published column is reduced once per exposed value at most, against one basis:
        ``free`` (the hidden values not determined), with the ``found`` ones added for the time
        of this call."""
        basis = free
        mark = len(basis.rows)
        watched = set(exposed)
        for key in found:
            basis.add(self._column(key), {key: 1} if key in watched else {})
        chosen: set[int] = set()
        freed: set[int] = set()
        tried: set[int] = set()  # published columns kept in the basis (independent so far)
        for key in exposed:
            if key in freed:
                continue
            seen: set[int] = {key}
            frontier: set[int] = {key}
            while key not in freed and frontier:
                reached = {
                    other
                    for current in frontier
                    for number, _ in self.by_var[current]
                    for other, _ in self.equations[number]
                    if other not in seen
                }
                seen |= reached
                paid = sorted(
                    (k for k in reached if self._hideable(k, hidden) and k not in tried),
                    key=lambda k: (-1, False, 0, self._name(k)) if k in chosen else self.weight(k),
                )
                for column in paid:
                    vector, history = self._column(column), {column: 1}
                    if basis.add(vector, history):
                        tried.add(column)
                        continue
                    if history.get(key):
                        chosen |= {k for k in history if k not in watched}
                        freed |= {k for k in history if k in watched}
                        break
                frontier = reached
            if key not in freed:
                raise SuppressionError("no value left to hide around a determined small count")
        basis.truncate(mark)
        return chosen


def suppress(
    values: Mapping[K, int],
    equations: Sequence[Equation[K]],
    threshold: int,
    *,
    fixed_hidden: Iterable[K] = (),
    fixed_published: Iterable[K] = (),
    measures: Iterable[K] = (),
    cost: Callable[[K], int] = lambda _: 1,
) -> set[K]:
    """Keys to hide so that no hidden value is determined by the published ones.

    ``equations``: linear relations, each a list of (key, coefficient) summing to zero (a total
    enters with -1). ``fixed_hidden`` / ``fixed_published``: values settled by a wider answer
    (the overall row when groups are asked for): never published / never hidden here.
    ``measures``: values that are not counts (a sum of scores): never small cells themselves.
    ``cost``: tier of a key as a complement (lower is hidden first; totals go last).
    """
    return Suppression(
        values,
        equations,
        threshold,
        fixed_hidden=fixed_hidden,
        fixed_published=fixed_published,
        measures=measures,
        cost=cost,
    ).run()
