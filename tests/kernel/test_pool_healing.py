"""A database outage breaks pooled connections; the pools heal at once. Backends are terminated
(``pg_terminate_backend``, what a restart or a failover does to them) while the system is idle
and while requests run: no request fails afterwards, whatever service it reaches, and the few
that were in flight get a retryable 503 whose words fit what they asked (PostgreSQL only: SQLite
has no server to lose)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar.testing import RequestFactory
from sqlalchemy.ext.asyncio import create_async_engine

from services.kernel.problems import database_error_handler
from tests.conftest import POSTGRES_URL, Relais, start_relais
from tests.referrals.conftest import World
from tests.tokens import TokenFactory, bearer


@asynccontextmanager
async def system_on_postgres(home: Path, tokens: TokenFactory) -> AsyncIterator[Relais]:
    relais, stack = await start_relais("postgresql", home, tokens, database_pool_size=4)
    async with stack:
        yield relais


async def terminate_backends(prefix: str) -> int:
    """End every server session of this system's services (not the test's own)."""
    engine = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.connect() as conn:
            ended = await conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name LIKE :name AND pid <> pg_backend_pid()"
                ),
                {"name": f"relais-{prefix}%"},
            )
            return int(ended.scalar_one())
    finally:
        await engine.dispose()


def reads(relais: Relais, member: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """One read per service, each using its own pool."""
    user = bearer(relais.tokens.user(uuid.uuid4(), ("member",)))
    return [
        ("/directory/v1/structures?limit=5", {}),
        ("/referrals/v1/outbox", member),
        ("/auth/v1/me", user),
    ]


async def send_all(
    client: httpx.AsyncClient, requests: list[tuple[str, dict[str, str]]]
) -> list[httpx.Response]:
    return list(await asyncio.gather(*(client.get(path, headers=h) for path, h in requests)))


async def test_idle_pools_heal_without_failing_anyone(tmp_path: Path, tokens: TokenFactory) -> None:
    async with system_on_postgres(tmp_path, tokens) as relais:
        org = await World(relais).org()
        requests = reads(relais, org.member)
        tried = failed = 0
        for _ in range(3):
            await send_all(relais.client, requests * 4)  # every pool holds several connections
            assert await terminate_backends(relais.settings.database_schema_prefix) >= 3
            await asyncio.sleep(0.2)
            # Later (here 0.2 s, in the field 90 s): each service's next requests all succeed.
            for path, headers in requests * 4:
                response = await relais.client.get(path, headers=headers)
                tried += 1
                failed += response.status_code >= 500
        print(f"idle outages: {tried} requests, {failed} failed")
        assert failed == 0


async def test_requests_in_flight_fail_once_then_none(tmp_path: Path, tokens: TokenFactory) -> None:
    async with system_on_postgres(tmp_path, tokens) as relais:
        org = await World(relais).org()
        requests = reads(relais, org.member)
        outcomes: list[tuple[float, httpx.Response]] = []
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        async def load(path: str, headers: dict[str, str]) -> None:
            while not stop.is_set():
                outcomes.append((loop.time(), await relais.client.get(path, headers=headers)))

        workers = [asyncio.create_task(load(p, h)) for p, h in requests * 3]
        await asyncio.sleep(0.5)
        for _ in range(3):
            await terminate_backends(relais.settings.database_schema_prefix)
            await asyncio.sleep(0.4)
        last_outage = loop.time()
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*workers)

        failures = [(at, r) for at, r in outcomes if r.status_code >= 500]
        print(f"outages under load: {len(outcomes)} requests, {len(failures)} failed")
        assert len(outcomes) > 50
        for _, response in failures:
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"]
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "enregistr" not in response.json()["detail"]  # a read saves nothing anyway
        assert [r.text for at, r in failures if at > last_outage] == []


@pytest.mark.parametrize(
    ("method", "words"), [("GET", "lecture impossible"), ("POST", "rien n'a été enregistré")]
)
def test_outage_words_fit_the_request(method: str, words: str) -> None:
    request: Any = RequestFactory().get("/referrals/v1/outbox")
    request.scope["method"] = method
    response = database_error_handler(request, ConnectionError("database connection lost"))
    assert response.status_code == 503
    assert words in response.content.decode()
