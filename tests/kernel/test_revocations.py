"""The revocation list never takes a service down with auth: unreachable or garbled answers keep
the last list (offline verification still holds) instead of failing requests."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from litestar import Litestar, Response, get

from services.kernel.security import RevocationList
from tests.conftest import free_port


async def test_unreachable_auth_means_an_empty_list_not_an_error() -> None:
    port = free_port()
    revocations = RevocationList(
        url="/auth/.well-known/revoked-tokens.json",
        client_factory=lambda: httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}"),
        refresh_seconds=0,
    )
    assert await revocations.contains("any") is False


@pytest.fixture
def auth_double() -> dict[str, object]:
    """A real ASGI app answering what we tell it to, reached over httpx like the real auth."""
    answer: dict[str, object] = {"status": 200, "body": {"jti": ["revoked-1"]}}

    @get("/auth/.well-known/revoked-tokens.json", sync_to_thread=False)
    def revoked() -> Response[object]:
        return Response(answer["body"], status_code=int(str(answer["status"])))

    answer["app"] = Litestar([revoked])
    return answer


async def test_a_failed_refresh_keeps_the_last_list(auth_double: dict[str, object]) -> None:
    app = auth_double["app"]
    revocations = RevocationList(
        url="/auth/.well-known/revoked-tokens.json",
        client_factory=lambda: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="http://auth",
        ),
        refresh_seconds=0,
    )
    assert await revocations.contains("revoked-1") is True
    assert await revocations.contains("other") is False
    auth_double["status"] = 503
    assert await revocations.contains("revoked-1") is True
    auth_double.update(status=200, body={"unexpected": True})
    assert await revocations.contains("revoked-1") is True
    auth_double.update(body={"jti": []})
    assert await revocations.contains("revoked-1") is False


async def test_concurrent_checks_share_one_refresh(auth_double: dict[str, object]) -> None:
    app = auth_double["app"]
    opened = 0

    def factory() -> httpx.AsyncClient:
        nonlocal opened
        opened += 1
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="http://auth",
        )

    revocations = RevocationList(
        url="/auth/.well-known/revoked-tokens.json", client_factory=factory, refresh_seconds=60
    )
    results = await asyncio.gather(*(revocations.contains("revoked-1") for _ in range(20)))
    assert all(results)
    assert opened == 1
