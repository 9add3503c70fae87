"""The public shape of ``GET /referrals/v1/stats`` (msgspec Structs).

Made to be displayed as is: every table lists its categories with their French labels in
order, every row names its group, and ``null`` is a value hidden by statistical secrecy.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

GroupBy = Literal["none", "structure", "service", "territory", "service_type", "thematique"]


class StatsGroup(msgspec.Struct, kw_only=True):
    id: str  # structure or service UUID, département code, type or thematique slug; "*": all
    label: str


class StatsCategory(msgspec.Struct, kw_only=True):
    code: str
    label: str


class StatsRow(msgspec.Struct, kw_only=True):
    group: str
    group_label: str
    cells: dict[str, int | None]
    total: int | None


class StatsTable(msgspec.Struct, kw_only=True):
    name: str
    label: str
    unit: str
    categories: list[StatsCategory]
    rows: list[StatsRow]


class StatsDelay(msgspec.Struct, kw_only=True):
    name: str
    label: str
    group: str
    group_label: str
    median_hours: float | None
    p90_hours: float | None


class StatsRate(msgspec.Struct, kw_only=True):
    name: str
    label: str
    group: str
    group_label: str
    numerator: int | None
    denominator: int | None
    rate: float | None


class StatsMean(msgspec.Struct, kw_only=True):
    name: str
    label: str
    group: str
    group_label: str
    count: int | None
    mean: float | None


class StatsRead(msgspec.Struct, kw_only=True):
    """Anonymous statistics. ``null`` means hidden by statistical secrecy: a count below
    ``min_cell``, or a value that would let one recompute such a count from the published ones
    — in this answer or in any other grouping of the same period and scope."""

    since: datetime
    until: datetime
    scope: Literal["structure", "network"]
    structure_id: uuid.UUID | None
    group_by: GroupBy
    min_cell: int
    groups: list[StatsGroup]
    tables: list[StatsTable]
    delays: list[StatsDelay]
    rates: list[StatsRate]
    means: list[StatsMean]
