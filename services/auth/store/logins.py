"""Login throttling (per e-mail and per address) and login sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.crypto import digest, random_token
from services.auth.models import (
    Account,
    LoginSession,
    LoginThrottle,
)
from services.auth.store.accounts import ACTIVE, normalize_email
from services.kernel.clock import utcnow
from services.kernel.throttle import ThrottlePolicy, ThrottleState, after_failure, retry_at


def throttle_keys(email: str, address: str) -> tuple[str, str]:
    return f"email:{digest(normalize_email(email))[:40]}", f"ip:{address[:60]}"


async def login_blocked_until(session: AsyncSession, email: str, address: str) -> datetime | None:
    now = utcnow()
    blocked: list[datetime] = []
    for key in throttle_keys(email, address):
        row = await session.get(LoginThrottle, key)
        state = ThrottleState(row.failures, row.last_failure_at, row.locked_until) if row else None
        until = retry_at(state, now)
        if until is not None:
            blocked.append(until)
    return max(blocked) if blocked else None


async def record_login_failure(
    session: AsyncSession, email: str, address: str, policy: ThrottlePolicy
) -> None:
    now = utcnow()
    for key in throttle_keys(email, address):
        row = await session.get(LoginThrottle, key)
        state = ThrottleState(row.failures, row.last_failure_at, row.locked_until) if row else None
        new = after_failure(state, now, policy, per_ip=key.startswith("ip:"))
        if row is None:
            session.add(
                LoginThrottle(
                    key=key,
                    failures=new.failures,
                    last_failure_at=new.last_failure_at,
                    locked_until=new.locked_until,
                )
            )
        else:
            row.failures = new.failures
            row.last_failure_at = new.last_failure_at
            row.locked_until = new.locked_until
    await session.flush()


async def clear_login_failures(session: AsyncSession, email: str) -> None:
    key, _ = throttle_keys(email, "")
    await session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == key))


async def open_session(
    session: AsyncSession, account: Account, method: str, hours: int = 10
) -> str:
    sid = random_token(32)
    now = utcnow()
    session.add(
        LoginSession(
            id_hash=digest(sid),
            account_id=account.id,
            method=method,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    account.last_login_at = now
    await session.flush()
    return sid


async def session_account(
    session: AsyncSession, sid: str | None
) -> tuple[Account, LoginSession] | None:
    if not sid:
        return None
    login = await session.get(LoginSession, digest(sid))
    if login is None or login.expires_at <= utcnow():
        return None
    account = await session.get(Account, login.account_id)
    if account is None or account.status != ACTIVE:
        return None
    return account, login


async def close_session(session: AsyncSession, sid: str | None) -> None:
    if sid:
        await session.execute(sa.delete(LoginSession).where(LoginSession.id_hash == digest(sid)))
