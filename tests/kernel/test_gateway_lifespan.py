"""The gateway reports a failing shutdown hook to the server instead of dying silently."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from services.gateway import Gateway


async def _run_lifespan(gateway: Gateway) -> list[dict[str, Any]]:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await gateway({"type": "lifespan"}, receive, send)
    return sent


async def test_clean_shutdown_is_complete() -> None:
    sent = await _run_lifespan(Gateway({"one": Litestar([])}))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_failing_shutdown_hook_is_reported() -> None:
    def broken(_: Litestar) -> None:
        raise RuntimeError("pool already closed")

    stopped: list[str] = []

    def other(_: Litestar) -> None:
        stopped.append("other")

    gateway = Gateway(
        {"one": Litestar([], on_shutdown=[other]), "two": Litestar([], on_shutdown=[broken])}
    )
    sent = await _run_lifespan(gateway)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert sent[1]["message"] == "RuntimeError"
    assert stopped == ["other"]  # the other app's shutdown still ran
