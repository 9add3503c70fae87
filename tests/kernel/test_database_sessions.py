"""Request sessions against a real PostgreSQL: a lost database answers a retryable 503 (never a
500), a pool of connections killed by a database restart heals without a failed request, and
read-only routes that opt into autocommit run without a surrounding transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from litestar import get
from litestar.handlers import HTTPRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from services.kernel.app import AUTOCOMMIT, create_service_app
from services.kernel.db import Database, application_name
from services.kernel.http import ServiceLocator
from services.kernel.settings import Settings
from tests.conftest import POSTGRES_URL, free_port, make_settings, require_postgres, start_relais
from tests.tokens import TokenFactory


@asynccontextmanager
async def _serve(
    settings: Settings, db: Database, handler: HTTPRouteHandler
) -> AsyncIterator[httpx.AsyncClient]:
    """One handler in a service app (the kernel's DI and error handlers), called in-process."""
    app = create_service_app(
        service="directory",
        title="probe",
        description="probe",
        settings=settings,
        db=db,
        locator=ServiceLocator(settings),
        route_handlers=[handler],
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            yield client
    finally:
        await db.dispose()


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("/service-unavailable")


async def _terminate_sessions(schema: str) -> int:
    engine = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.connect() as conn:
            killed = await conn.scalar(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": application_name(schema)},
            )
            # pg_terminate_backend only signals: wait until the backends are gone, as after a
            # real restart, and let the event loop read the closed sockets (asyncpg learns of a
            # closed connection from its socket, which is what the pool's checkout relies on).
            for _ in range(100):
                left = await conn.scalar(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": application_name(schema)},
                )
                if not left:
                    break
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    await asyncio.sleep(0.05)
    return int(killed or 0)


async def test_killed_connections_are_replaced_before_use(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    relais, stack = await start_relais("postgresql", tmp_path, tokens)
    async with stack:
        path = "/directory/v1/structures?limit=1"
        assert (await relais.client.get(path)).status_code == 200
        assert await _terminate_sessions(relais.settings.schema_for("directory")) >= 1
        # Pre-ping is off by default, yet the checkout sees the connection closed and replaces
        # it (with the rest of the pool): no request fails (tests/kernel/test_pool_healing.py).
        assert (await relais.client.get(path)).status_code == 200
        assert (await relais.client.get(path)).status_code == 200


async def test_unreachable_database_is_503_not_500(tmp_path: Path, tokens: TokenFactory) -> None:
    await require_postgres()
    settings = make_settings(
        "postgresql",
        tmp_path,
        tokens,
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/test",
    )
    db = Database(settings, "directory")

    @get("/probe")
    async def probe(session: AsyncSession) -> int:
        return int(await session.scalar(sa.text("SELECT 1")) or 0)

    async with _serve(settings, db, probe) as client:
        _assert_unavailable(await client.get("/probe"))


@pytest.mark.parametrize("autocommit", [True, False])
async def test_autocommit_routes_run_each_statement_on_its_own(
    tmp_path: Path, tokens: TokenFactory, autocommit: bool
) -> None:
    await require_postgres()
    settings = make_settings("postgresql", tmp_path, tokens)
    db = Database(settings, "directory")

    # now() is the start of the current transaction: equal twice inside one, not across two.
    @get("/clock", opt={AUTOCOMMIT: autocommit})
    async def clock(session: AsyncSession) -> list[datetime]:
        first = await session.scalar(sa.text("SELECT now()"))
        await asyncio.sleep(0.01)
        second = await session.scalar(sa.text("SELECT now()"))
        assert first is not None
        assert second is not None
        return [first, second]

    async with _serve(settings, db, clock) as client:
        response = await client.get("/clock")
        assert response.status_code == 200, response.text
        first, second = response.json()
        assert (first != second) is autocommit
