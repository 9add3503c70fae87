"""Shared fixtures: the whole system on SQLite and on PostgreSQL, with test-minted tokens.

Every test that uses ``relais`` (or ``client``) runs once per backend. PostgreSQL is the server
at 127.0.0.1:5432 (database ``test``); each run creates its own schemas and drops them after.
With REQUIRE_POSTGRES=1 a missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services import system
from services.gateway import Gateway
from services.kernel.settings import Settings, load_settings
from tests.tokens import ISSUER, TokenFactory

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgresql"]


@dataclass
class Relais:
    """The running system under test."""

    backend: str
    settings: Settings
    gateway: Gateway
    client: httpx.AsyncClient
    tokens: TokenFactory

    def app(self, name: str) -> Any:
        return self.gateway.apps[name]


def free_port() -> int:
    """A localhost port nothing listens on (bound then released): for servers a test starts, or
    as a closed port to reach."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _postgres_available() -> bool:
    engine = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


async def require_postgres() -> None:
    """Skip without PostgreSQL, unless REQUIRE_POSTGRES makes its absence a failure."""
    if not await _postgres_available():
        message = f"PostgreSQL not reachable at {POSTGRES_URL}"
        if REQUIRE_POSTGRES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


async def drop_schemas(prefix: str) -> None:
    engine = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.begin() as conn:
            for name in system.SERVICE_NAMES:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{prefix}{name}" CASCADE'))
    finally:
        await engine.dispose()


@contextmanager
def cli_database(backend: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`relais` commands run in this process (typer's CliRunner) on a database of their own:
    SQLite files under ``home``, or schemas of their own on PostgreSQL, dropped afterwards."""
    monkeypatch.chdir(home)
    for name in ("RELAIS_HOME", "DATABASE_URL", "DATABASE_SCHEMA_PREFIX", "MEILI_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GEOCODER_URL", raising=False)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    if backend == "postgresql":
        asyncio.run(require_postgres())
        monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
        monkeypatch.setenv("DATABASE_SCHEMA_PREFIX", prefix)
    try:
        yield
    finally:
        if backend == "postgresql":
            asyncio.run(drop_schemas(prefix))


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


def make_settings(backend: str, home: Path, tokens: TokenFactory, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": home,
        "jwt_jwks": tokens.jwks,
        "log_level": "WARNING",
        "worker_enabled": False,
        "base_url": "http://testserver",
        "jwt_issuer": ISSUER,  # what TokenFactory signs as
    }
    if backend == "postgresql":
        values["database_url"] = POSTGRES_URL
        values["database_schema_prefix"] = f"t{uuid.uuid4().hex[:8]}_"
    values.update(overrides)
    return load_settings(environ={}, **values)


@asynccontextmanager
async def lifespan_task(gateway: Gateway) -> AsyncIterator[None]:
    """Run the apps' lifespans in one task (anyio scopes must exit where they began)."""
    started, stop = asyncio.Event(), asyncio.Event()
    failure: list[BaseException] = []

    async def hold() -> None:
        try:
            async with AsyncExitStack() as inner:
                for app in gateway.apps.values():
                    await inner.enter_async_context(app.lifespan())
                started.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            started.set()
            raise

    task = asyncio.create_task(hold())
    await started.wait()
    if failure:
        raise failure[0]
    try:
        yield
    finally:
        stop.set()
        await task


async def start_relais(
    backend: str, home: Path, tokens: TokenFactory, **overrides: Any
) -> tuple[Relais, AsyncExitStack]:
    if backend == "postgresql":
        await require_postgres()
    settings = make_settings(backend, home, tokens, **overrides)
    await system.migrate(settings)
    gateway = system.create_gateway(settings)
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
async def relais(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[Relais]:
    home = tmp_path_factory.mktemp(f"relais-{request.param}")
    system_under_test, stack = await start_relais(request.param, home, tokens)
    async with stack:
        yield system_under_test


@pytest.fixture
def client(relais: Relais) -> httpx.AsyncClient:
    return relais.client


@pytest.fixture
def backend(relais: Relais) -> str:
    return relais.backend
