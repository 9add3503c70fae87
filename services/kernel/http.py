"""HTTP between services: real HTTP semantics through httpx, even inside one process.

A service reaches another by name. When ``<NAME>_URL`` is set the call goes over the network;
otherwise it goes through an in-process ASGI transport to the app registered under that name.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.kernel import tracing
from services.kernel.settings import Settings

INTERNAL_BASE = "http://relais.internal"


class ServiceLocator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._apps: dict[str, Any] = {}

    def register(self, name: str, app: Any) -> None:
        self._apps[name] = app

    def client(self, name: str, **kwargs: Any) -> httpx.AsyncClient:
        url: str = getattr(self.settings, f"{name}_url", "")
        timeout = kwargs.pop("timeout", self.settings.service_timeout_seconds)
        if url:
            return tracing.instrument(
                httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout, **kwargs)
            )
        app = self._apps.get(name)
        if app is None:
            # Not mounted here and no URL: calls fail like an unreachable host would.
            return httpx.AsyncClient(
                base_url=INTERNAL_BASE, transport=_Unreachable(name), timeout=timeout, **kwargs
            )
        return tracing.instrument(
            httpx.AsyncClient(
                base_url=INTERNAL_BASE,
                transport=httpx.ASGITransport(app=app),
                timeout=timeout,
                **kwargs,
            )
        )


class _Unreachable(httpx.AsyncBaseTransport):
    def __init__(self, name: str) -> None:
        self.name = name

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"service {self.name!r} is not reachable", request=request)
