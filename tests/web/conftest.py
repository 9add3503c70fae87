"""The whole system with tokens issued by auth (the web app signs in like any OIDC client),
seeded with the demo territory, on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services import system
from services.directory.demo.seed import seed_demo
from tests.auth.conftest import start_services
from tests.conftest import Relais
from tests.tokens import TokenFactory


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def web_relais(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[Relais]:
    home = tmp_path_factory.mktemp(f"web-{request.param}")
    relais, stack = await start_services(request.param, home, tokens, names=system.SERVICE_NAMES)
    async with stack:
        async with relais.app("directory").state.db.session() as session:
            await seed_demo(session)
        yield relais
