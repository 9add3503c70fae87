"""Login throttling (per e-mail and per address) and login sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.crypto import digest, random_token
from services.auth.models import (
    Account,
    LoginSession,
    LoginThrottle,
)
from services.auth.store.accounts import ACTIVE, normalize_email
from services.kernel import throttle
from services.kernel.clock import utcnow
from services.kernel.throttle import ThrottlePolicy

THROTTLES = cast(sa.Table, LoginThrottle.__table__)


def throttle_keys(email: str, address: str) -> tuple[str, str]:
    return f"email:{digest(normalize_email(email))[:40]}", f"ip:{address[:60]}"


async def login_blocked_until(session: AsyncSession, email: str, address: str) -> datetime | None:
    return await throttle.blocked_until(session, THROTTLES, throttle_keys(email, address), utcnow())


async def record_login_failure(
    session: AsyncSession, email: str, address: str, policy: ThrottlePolicy
) -> None:
    """One more failure per e-mail and per address; failures sent in parallel all count
    (``kernel.throttle.count_failure``). Always the e-mail first: two logins never wait for each
    other's rows in opposite orders."""
    now = utcnow()
    for key in throttle_keys(email, address):
        await throttle.count_failure(
            session, THROTTLES, key, policy, now, per_ip=key.startswith("ip:")
        )


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
