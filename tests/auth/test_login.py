"""Login page: generic errors, throttling per e-mail (known or not), no enumeration, CSRF."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.auth.helpers import (
    authorize_params,
    browser,
    hidden_fields,
    login,
    make_account,
    make_app_client,
    pkce,
    unescape,
    unique_email,
)
from tests.conftest import Relais

LOCKOUT_AFTER = 6  # tests/auth/conftest.py
SLOWDOWN_AFTER = 3


async def _attempts(relais: Relais, email: str, passwords: list[str]) -> list[tuple[int, str]]:
    client_id, _ = await make_app_client(relais)
    _, challenge = pkce()
    params = authorize_params(client_id, challenge)
    results = []
    async with browser(relais) as b:
        for password in passwords:
            response = await login(b, params, email, password)
            text = response.text.split("<main>")[1].split("<form")[0]
            results.append((response.status_code, text))
    return results


async def test_wrong_password_and_unknown_email_look_the_same(auth_relais: Relais) -> None:
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    known = await _attempts(auth_relais, account.email, ["mauvais mot de passe"])
    unknown = await _attempts(auth_relais, unique_email("personne"), ["mauvais mot de passe"])
    assert known == unknown
    assert known[0][0] == 401
    assert "Adresse e-mail ou mot de passe incorrect." in known[0][1]


async def test_disabled_or_invited_account_gets_the_generic_message(auth_relais: Relais) -> None:
    for status in ("disabled", "invited"):
        account = await make_account(auth_relais, status=status)
        results = await _attempts(auth_relais, account.email, ["une phrase de passe assez longue"])
        assert results[0][0] == 401
        assert "Adresse e-mail ou mot de passe incorrect." in results[0][1]


@pytest.mark.parametrize("exists", [True, False], ids=["known", "unknown"])
async def test_brute_force_is_slowed_then_locked(auth_relais: Relais, exists: bool) -> None:
    email = (
        (await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])).email
        if exists
        else unique_email("inconnu")
    )
    results = await _attempts(auth_relais, email, [f"essai {i}" for i in range(SLOWDOWN_AFTER + 1)])
    statuses = [status for status, _ in results]
    # Failures up to the slow-down threshold, then retries must wait (429 + Retry-After).
    assert statuses[:SLOWDOWN_AFTER] == [401] * SLOWDOWN_AFTER
    assert statuses[SLOWDOWN_AFTER] == 429
    assert "Trop de tentatives" in results[SLOWDOWN_AFTER][1]


async def test_lockout_refuses_even_the_right_password(auth_relais: Relais) -> None:
    from datetime import timedelta

    import sqlalchemy as sa

    from services.auth.models import LoginThrottle
    from services.auth.store import logins

    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    key, _ = logins.throttle_keys(account.email, "")
    db = auth_relais.app("auth").state.db
    for _ in range(LOCKOUT_AFTER):
        # Skip the exponential waits: make every previous failure look old enough.
        results = await _attempts(auth_relais, account.email, ["mauvais mot de passe"])
        assert results[0][0] in (401, 429)
        async with db.session() as session:
            row = await session.get(LoginThrottle, key)
            assert row is not None
            if row.failures < LOCKOUT_AFTER:
                await session.execute(
                    sa.update(LoginThrottle)
                    .where(LoginThrottle.key == key)
                    .values(locked_until=row.last_failure_at - timedelta(seconds=1))
                )
    async with db.session() as session:
        row = await session.get(LoginThrottle, key)
        assert row is not None
        assert row.failures == LOCKOUT_AFTER
    right = await _attempts(auth_relais, account.email, ["une phrase de passe assez longue"])
    assert right[0][0] == 429


async def test_a_burst_of_failures_in_parallel_is_counted_in_full(auth_relais: Relais) -> None:
    """Wrong passwords sent all at once each count (no read-modify-write race losing them, no
    500 on the first insert): the account is locked, and the right password then gets 429."""
    from services.auth.models import LoginThrottle
    from services.auth.store import logins

    burst = 20
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    client_id, _ = await make_app_client(auth_relais)
    _, challenge = pkce()
    params = authorize_params(client_id, challenge)
    browsers = [browser(auth_relais) for _ in range(burst)]
    forms = []
    for b in browsers:
        page = await b.get("/auth/authorize", params=params)
        fields = {k: unescape(v) for k, v in hidden_fields(page.text).items()}
        forms.append({**fields, "email": account.email, "password": "mauvais mot de passe"})
    answers = await asyncio.gather(
        *(b.post("/auth/login", data=f) for b, f in zip(browsers, forms, strict=True))
    )
    for b in browsers:
        await b.aclose()
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {401, 429}, statuses
    failed = statuses.count(401)
    assert failed >= LOCKOUT_AFTER, statuses
    key, _ = logins.throttle_keys(account.email, "")
    async with auth_relais.app("auth").state.db.session() as session:
        row = await session.get(LoginThrottle, key)
        assert row is not None
        assert row.failures == failed
    async with browser(auth_relais) as b:
        right = await login(b, params, account.email, "une phrase de passe assez longue")
    assert right.status_code == 429
    # Locked out (lockout_seconds), not merely slowed down by a few seconds.
    assert int(right.headers["Retry-After"]) > 60


async def test_login_requires_the_csrf_token(auth_relais: Relais) -> None:
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    client_id, _ = await make_app_client(auth_relais)
    _, challenge = pkce()
    async with browser(auth_relais) as b:
        page = await b.get("/auth/authorize", params=authorize_params(client_id, challenge))
        fields = {k: unescape(v) for k, v in hidden_fields(page.text).items()}
        fields["csrf_token"] = "forged-token-value-xxxxxxxx"
        response = await b.post(
            "/auth/login",
            data={**fields, "email": account.email, "password": "une phrase de passe assez longue"},
        )
        assert response.status_code == 400
        assert "relais_session" not in response.headers.get("set-cookie", "")


async def test_next_cannot_redirect_elsewhere(auth_relais: Relais) -> None:
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    client_id, _ = await make_app_client(auth_relais)
    _, challenge = pkce()
    async with browser(auth_relais) as b:
        page = await b.get("/auth/authorize", params=authorize_params(client_id, challenge))
        fields = {k: unescape(v) for k, v in hidden_fields(page.text).items()}
        fields["next"] = "https://evil.example.org/"
        response = await b.post(
            "/auth/login",
            data={**fields, "email": account.email, "password": "une phrase de passe assez longue"},
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith("/auth/authorize")
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()


async def test_account_without_structure_is_told_so(auth_relais: Relais) -> None:
    account = await make_account(auth_relais)
    client_id, _ = await make_app_client(auth_relais)
    _, challenge = pkce()
    async with browser(auth_relais) as b:
        params = authorize_params(client_id, challenge)
        response = await login(b, params, account.email, "une phrase de passe assez longue")
        page = await b.get(response.headers["location"])
        assert page.status_code == 403
        assert "aucune structure" in page.text


async def test_login_counters_are_forgotten_once_their_window_has_passed(
    auth_relais: Relais,
) -> None:
    """An address is personal data: its counter goes once it no longer protects anything."""
    from datetime import timedelta

    import sqlalchemy as sa

    from services.auth import worker
    from services.auth.models import LoginThrottle
    from services.auth.store import logins
    from services.kernel.clock import utcnow

    app = auth_relais.app("auth")
    window = timedelta(seconds=app.state.settings.auth_login_lockout_seconds)
    accounts = [
        await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")]) for _ in range(3)
    ]
    for account in accounts:
        assert (await _attempts(auth_relais, account.email, ["mauvais mot de passe"]))[0][0] == 401
    old, locked, fresh = (logins.throttle_keys(a.email, "")[0] for a in accounts)
    past = utcnow() - window - timedelta(minutes=1)
    async with app.state.db.session() as session:
        await session.execute(
            sa.update(LoginThrottle)
            .where(LoginThrottle.key.in_([old, locked]))
            .values(last_failure_at=past, locked_until=None)
        )
        await session.execute(
            sa.update(LoginThrottle)
            .where(LoginThrottle.key == locked)
            .values(locked_until=utcnow() + timedelta(minutes=5))
        )
    assert await worker.forget_login_counters(app) >= 1
    async with app.state.db.session() as session:
        assert await session.get(LoginThrottle, old) is None
        assert await session.get(LoginThrottle, locked) is not None  # a lock still holds
        assert await session.get(LoginThrottle, fresh) is not None
