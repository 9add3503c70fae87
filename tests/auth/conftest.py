"""A separate system whose tokens are issued by the auth service and verified via its JWKS.

Only the auth service is mounted: these tests must not depend on the state of the other services
(the e2e tests under tests/e2e/ run everything).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from services import system
from tests.conftest import (
    BACKENDS,
    POSTGRES_URL,
    REQUIRE_POSTGRES,
    Relais,
    _postgres_available,
    drop_schemas,
    lifespan_task,
    make_settings,
)
from tests.tokens import TokenFactory

AUTH_SETTINGS: dict[str, Any] = {
    "jwt_jwks": "",
    "auth_login_slowdown_after": 3,
    "auth_login_lockout_after": 6,
    "auth_login_ip_lockout_after": 1000,
    "auth_signing_key_announce_seconds": 0,
}


async def start_services(
    backend: str,
    home: Path,
    tokens: TokenFactory,
    names: Sequence[str] = ("auth",),
    **overrides: Any,
) -> tuple[Relais, AsyncExitStack]:
    if backend == "postgresql" and not await _postgres_available():
        message = f"PostgreSQL not reachable at {POSTGRES_URL}"
        if REQUIRE_POSTGRES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    settings = make_settings(backend, home, tokens, **{**AUTH_SETTINGS, **overrides})
    await system.migrate(settings, names)
    gateway = system.create_gateway(settings, names)
    stack = AsyncExitStack()
    await stack.enter_async_context(lifespan_task(gateway))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url="http://testserver"
    )
    await stack.enter_async_context(client)
    if backend == "postgresql":
        stack.push_async_callback(drop_schemas, settings.database_schema_prefix)
    return Relais(backend, settings, gateway, client, tokens), stack


@pytest.fixture(scope="session", params=BACKENDS)
async def auth_relais(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[Relais]:
    home = tmp_path_factory.mktemp(f"auth-{request.param}")
    system_under_test, stack = await start_services(request.param, home, tokens)
    async with stack:
        yield system_under_test
