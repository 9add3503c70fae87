"""The clock every service reads: aware UTC datetimes (stored and sent as RFC 3339 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)
