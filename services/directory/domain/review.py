"""What a maintainer should look at in an entry, and why (pure, no I/O).

An entry needs review when its content is stale (``domain.freshness``), when nobody ever
confirmed it (``never_verified``: imported or created, never ``verify``-ed), when one of its links
is dead or failing (``domain.links``; failing ones are shown to insiders only), or, for a
service, when its capacity (accepting, waiting list, full) was not stated for
``capacity_days`` days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from services.directory.domain.freshness import is_stale

Reason = Literal["stale", "never_verified", "link_dead", "link_failing", "capacity_unconfirmed"]
REASONS: tuple[Reason, ...] = (
    "stale",
    "never_verified",
    "link_dead",
    "link_failing",
    "capacity_unconfirmed",
)
# A capacity statement older than this is worth confirming again (waiting lists move in weeks).
CAPACITY_REVIEW_DAYS = 30


@dataclass(frozen=True)
class Thresholds:
    """The instants the rules compare with, computed once per request."""

    now: datetime
    review_days: int
    capacity_days: int = CAPACITY_REVIEW_DAYS

    @property
    def stale_before(self) -> datetime:
        return self.now - timedelta(days=self.review_days)

    @property
    def capacity_before(self) -> datetime:
        return self.now - timedelta(days=self.capacity_days)


def reasons(
    *,
    reviewed_at: datetime | None,
    verified_at: datetime | None,
    link_states: Iterable[str],
    thresholds: Thresholds,
    service: bool,
    capacity_confirmed_at: datetime | None = None,
) -> list[Reason]:
    """Every reason the entry needs review, in ``REASONS`` order (empty: nothing to do).
    ``link_states`` are the states the reader is shown."""
    found: set[Reason] = set()
    if is_stale(reviewed_at, now=thresholds.now, period_days=thresholds.review_days):
        found.add("stale")
    if verified_at is None:
        found.add("never_verified")
    states = set(link_states)
    if "dead" in states:
        found.add("link_dead")
    if "failing" in states:
        found.add("link_failing")
    if service and (
        capacity_confirmed_at is None or capacity_confirmed_at < thresholds.capacity_before
    ):
        found.add("capacity_unconfirmed")
    return [r for r in REASONS if r in found]
