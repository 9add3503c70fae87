"""Throttling policy: slow down, then lock, per key (an e-mail, an address, a code) — pure rules
shared by the services (logins in auth, the person's follow-up codes in referrals)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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
