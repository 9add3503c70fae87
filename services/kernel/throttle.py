"""Throttling: slow down, then lock, per key (an e-mail, an address, a code) — shared by the
services (logins in auth, the person's follow-up codes in referrals).

The rules (``retry_at``, ``after_failure``) are pure; ``blocked_until``, ``count_failure`` and
``forget`` apply them to a service's counter table (columns ``key``, ``failures``,
``last_failure_at``, ``locked_until``). Counting takes the counter's row for writing before
reading it, so requests racing on one key count one after the other: a burst of failures in
parallel counts in full."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

MAX_WAIT_SECONDS = 60


@dataclass(frozen=True)
class ThrottlePolicy:
    slowdown_after: int
    lockout_after: int
    lockout_seconds: int
    ip_lockout_after: int


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    last_failure_at: datetime
    locked_until: datetime | None


def retry_at(state: ThrottleState | None, now: datetime) -> datetime | None:
    """When the next attempt is allowed, or None if it is allowed now."""
    if state is None:
        return None
    if state.locked_until is not None and state.locked_until > now:
        return state.locked_until
    return None


def after_failure(
    state: ThrottleState | None, now: datetime, policy: ThrottlePolicy, *, per_ip: bool
) -> ThrottleState:
    """State after one more failure: exponential wait after ``slowdown_after`` failures, a
    lockout after ``lockout_after`` (``ip_lockout_after`` for an address)."""
    expired = (
        state is not None
        and state.last_failure_at + timedelta(seconds=policy.lockout_seconds) < now
        and (state.locked_until is None or state.locked_until < now)
    )
    failures = 1 if state is None or expired else state.failures + 1
    limit = policy.ip_lockout_after if per_ip else policy.lockout_after
    locked_until: datetime | None = None
    if failures >= limit:
        locked_until = now + timedelta(seconds=policy.lockout_seconds)
    elif not per_ip and failures >= policy.slowdown_after:
        wait = min(2 ** (failures - policy.slowdown_after), MAX_WAIT_SECONDS)
        locked_until = now + timedelta(seconds=wait)
    return ThrottleState(failures=failures, last_failure_at=now, locked_until=locked_until)


async def blocked_until(
    session: AsyncSession, table: sa.Table, keys: Sequence[str], now: datetime
) -> datetime | None:
    """When the last of the locks on ``keys`` opens (None: none of them is locked)."""
    rows = await session.execute(
        sa.select(table.c.failures, table.c.last_failure_at, table.c.locked_until).where(
            table.c.key.in_(list(keys))
        )
    )
    blocked = [until for row in rows if (until := retry_at(ThrottleState(*row), now)) is not None]
    return max(blocked) if blocked else None


async def count_failure(
    session: AsyncSession,
    table: sa.Table,
    key: str,
    policy: ThrottlePolicy,
    now: datetime,
    *,
    per_ip: bool,
) -> ThrottleState:
    """One more failure counted against ``key`` (it locks when the policy says so).

    The counter's row is created or taken for writing first, by an upsert that changes nothing:
    on PostgreSQL the row lock (a concurrent count waits for this transaction to end, then reads
    its result), on SQLite the database's write lock (the same, for the whole file). Only then
    is it read and written, so no concurrent count is lost and no first insert collides."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        insert(table)
        .values(key=key, failures=0, last_failure_at=now, locked_until=None)
        .on_conflict_do_update(index_elements=[table.c.key], set_={"failures": table.c.failures})
    )
    row = (
        await session.execute(
            sa.select(table.c.failures, table.c.last_failure_at, table.c.locked_until).where(
                table.c.key == key
            )
        )
    ).one()
    new = after_failure(ThrottleState(*row), now, policy, per_ip=per_ip)
    await session.execute(
        sa.update(table)
        .where(table.c.key == key)
        .values(
            failures=new.failures,
            last_failure_at=new.last_failure_at,
            locked_until=new.locked_until,
        )
    )
    return new


async def forget(session: AsyncSession, table: sa.Table, before: datetime) -> int:
    """Drop the counters untouched since ``before`` and not locked any more (they would restart
    from zero anyway); returns how many went."""
    result = await session.execute(
        sa.delete(table).where(
            table.c.last_failure_at < before,
            sa.or_(table.c.locked_until.is_(None), table.c.locked_until < before),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
