"""Freshness: an entry is stale when its content was last known right too long ago.

``reviewed_at`` is that date: the last edit or confirmation of the entry by a person in Relais,
or, for an entry imported from another producer, the date that producer gives (data·inclusion
``date_maj``). An import is not a verification: importing a 2013 entry today does not make it
fresh. Status changes (publish, suspend, archive) are not reviews either.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def is_stale(reviewed_at: datetime | None, *, now: datetime, period_days: int) -> bool:
    """True when the content was last reviewed more than ``period_days`` before ``now`` (or
    never)."""
    return reviewed_at is None or now - reviewed_at > timedelta(days=period_days)


def stale_before(now: datetime, period_days: int) -> datetime:
    """Entries last reviewed before this instant are stale (for SQL filters)."""
    return now - timedelta(days=period_days)
