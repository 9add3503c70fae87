"""Composition root of the embedded mode: all services in one ASGI process.

Each service app already carries its own prefix (``/directory/...``), so the gateway only picks
the app by the first path segment, with no rewriting: the same URLs work behind a reverse proxy
when the services run apart. ``/healthz``, ``/readyz`` and ``/metrics`` cover every mounted service.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import msgspec
import structlog
from litestar import Litestar

from services.kernel import lifecycle
from services.kernel.observability import metrics_payload

log = structlog.get_logger("relais.gateway")
DOCS_ASSETS = "/docs/assets/"


def _package_dir(name: str) -> Path:
    """A package's folder, found without importing it (swagger-ui-py's import loads its
    framework adapters and Jinja: 2 MB in every server process, for four static files)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(name)
    return Path(spec.origin).parent


SWAGGER_STATIC = _package_dir("swagger_ui") / "static"
SWAGGER_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
DOCS_TEMPLATE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Relais — documentation des API</title>
<link rel="icon" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({
  urls: __URLS__, dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"
});
</script></body></html>
"""

GATEWAY_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


SITE = "web"


class Gateway:
    """``/<service>/…`` goes to that service; the web app (when mounted) answers every other
    path but the gateway's own (health, metrics, ``/docs``); without it, ``/`` shows the docs."""

    def __init__(self, apps: dict[str, Litestar]) -> None:
        self.apps = apps
        self.site = apps.get(SITE)
        self.prefixed = {name: app for name, app in apps.items() if name != SITE}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "/")
        first = path.lstrip("/").split("/", 1)[0]
        app = self.prefixed.get(first)
        if app is not None:
            await app(scope, receive, send)  # type: ignore[arg-type]
            return
        if scope["type"] != "http":
            return
        if self.site is not None and path not in GATEWAY_PATHS and first != "docs":
            await self.site(scope, receive, send)  # type: ignore[arg-type]
            return
        if path == "/healthz":
            await _json(send, 200, {"status": "ok"})
        elif path == "/readyz":
            states = {name: await app.state.db.ping() for name, app in self.apps.items()}
            ok = all(states.values()) and not lifecycle.draining()
            status = "draining" if lifecycle.draining() else "ok" if ok else "unavailable"
            body = {"status": status, "services": states}
            await _json(send, 200 if ok else 503, body)
        elif path == "/metrics":
            payload, content_type = metrics_payload()
            await _send(send, 200, payload, content_type)
        elif path in {"/", "/docs", "/docs/"}:
            await _send(send, 200, self._docs_page().encode(), "text/html; charset=utf-8")
        elif path.startswith(DOCS_ASSETS) and path[len(DOCS_ASSETS) :] in SWAGGER_ASSETS:
            name = path[len(DOCS_ASSETS) :]
            asset = (SWAGGER_STATIC / name).read_bytes()
            await _send(send, 200, asset, SWAGGER_ASSETS[name], cache=True)
        else:
            problem = {
                "type": "https://relais.example.org/problems/not-found",
                "title": "Ressource introuvable",
                "status": 404,
                "detail": "Aucune ressource à cette adresse.",
                "instance": path,
            }
            await _send(send, 404, msgspec.json.encode(problem), "application/problem+json")

    def _docs_page(self) -> str:
        """Interactive docs of every mounted service, served offline (assets from swagger-ui-py)."""
        urls = [
            {"url": f"/{name}/docs/openapi.json", "name": app.openapi_schema.info.title}
            for name, app in self.prefixed.items()
        ]
        return DOCS_TEMPLATE.replace("__URLS__", json.dumps(urls, ensure_ascii=False))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        stack = AsyncExitStack()
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            for app in self.apps.values():
                await stack.enter_async_context(app.lifespan())
        except Exception as exc:
            await stack.aclose()
            await send({"type": "lifespan.startup.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        try:
            await stack.aclose()
        except Exception as exc:
            # Say so to the server (and the log) instead of ending the lifespan task silently.
            kinds = _error_kinds(exc)
            log.error("shutdown_failed", error_type=kinds, exc_info=exc)
            await send({"type": "lifespan.shutdown.failed", "message": kinds})
            return
        # Every app's hooks ran to completion (pools disposed, embedded worker stopped).
        log.info("shutdown_complete", services=list(self.apps))
        await send({"type": "lifespan.shutdown.complete"})


def _error_kinds(exc: BaseException) -> str:
    """Type names of an error, looking inside exception groups (Litestar's lifespan uses them)."""
    if isinstance(exc, BaseExceptionGroup):
        return ", ".join(_error_kinds(inner) for inner in exc.exceptions)
    return type(exc).__name__


async def _json(send: Send, status: int, body: Any) -> None:
    await _send(send, status, msgspec.json.encode(body), "application/json")


async def _send(
    send: Send, status: int, body: bytes, content_type: str, *, cache: bool = False
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if cache:
        headers.append((b"cache-control", b"public, max-age=86400"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
