"""A separate system whose tokens are issued by the auth service and verified via its JWKS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import BACKENDS, Relais, start_relais
from tests.tokens import TokenFactory


@pytest.fixture(scope="session", params=BACKENDS)
async def auth_relais(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[Relais]:
    home = tmp_path_factory.mktemp(f"auth-{request.param}")
    system, stack = await start_relais(
        request.param,
        home,
        tokens,
        jwt_jwks="",
        auth_login_slowdown_after=3,
        auth_login_lockout_after=6,
        auth_login_ip_lockout_after=1000,
        auth_signing_key_announce_seconds=0,
    )
    async with stack:
        yield system
