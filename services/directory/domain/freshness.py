"""Freshness: an entry is stale when nobody changed or confirmed it during the review period."""

from __future__ import annotations

from datetime import datetime, timedelta


def last_reviewed(updated_at: datetime, verified_at: datetime | None) -> datetime:
    return max(updated_at, verified_at) if verified_at is not None else updated_at


def is_stale(
    updated_at: datetime, verified_at: datetime | None, *, now: datetime, period_days: int
) -> bool:
    """True when max(updated_at, verified_at) is older than ``period_days`` before ``now``."""
    return now - last_reviewed(updated_at, verified_at) > timedelta(days=period_days)


def stale_before(now: datetime, period_days: int) -> datetime:
    """Entries last reviewed before this instant are stale (for SQL filters)."""
    return now - timedelta(days=period_days)
