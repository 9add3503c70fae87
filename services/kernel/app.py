"""The common shape of every service's Litestar app: errors, auth, DB session, health, metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

import httpx
from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Response
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel import access, inputs, lifecycle, tracing
from services.kernel.db import Database
from services.kernel.http import ServiceLocator
from services.kernel.identity import Caller
from services.kernel.observability import (
    configure_logging,
    instrument_pool,
    metrics_payload,
    observability_middleware,
)
from services.kernel.openapi import StrictStructs, document_errors
from services.kernel.problems import EXCEPTION_HANDLERS
from services.kernel.security import KeyProvider, RevocationList, TokenVerifier
from services.kernel.settings import Settings

VERSION = "0.1.0"


AUTOCOMMIT = "autocommit"
"""Route ``opt`` flag: the handler only reads, in one statement or tolerating a snapshot per
statement, so its session runs without BEGIN/COMMIT (``opt={AUTOCOMMIT: True}``)."""


async def provide_session(
    request: Request[Any, Any, Any],
) -> AsyncGenerator[AsyncSession, None]:
    """One transaction per request: committed when the handler succeeds, else rolled back."""
    db: Database = request.app.state.db
    if request.route_handler.opt.get(AUTOCOMMIT):
        async with db.read_sessionmaker() as session:
            yield session
        return
    async with db.sessionmaker() as session:
        try:
            yield session
        except Exception:
            await session.rollback()
            raise
        else:
            # A handler that never used its session has nothing to commit: committing would
            # begin a transaction to end it.
            if session.in_transaction() or session.new or session.dirty or session.deleted:
                await session.commit()


async def provide_caller(request: Request[Any, Any, Any]) -> Caller | None:
    return await access.caller_of(request)


async def provide_authenticated(caller: Caller | None) -> Caller:
    if caller is None:
        raise access.unauthenticated()
    return caller


def build_verifier(settings: Settings, locator: ServiceLocator) -> TokenVerifier:
    def auth_client() -> httpx.AsyncClient:
        return locator.client("auth")

    if settings.jwt_jwks:
        keys = KeyProvider(jwks=json.loads(settings.jwt_jwks))
    elif settings.jwt_jwks_url:
        timeout = settings.service_timeout_seconds
        keys = KeyProvider(
            url=settings.jwt_jwks_url, client_factory=lambda: httpx.AsyncClient(timeout=timeout)
        )
    else:
        keys = KeyProvider(url="/auth/.well-known/jwks.json", client_factory=auth_client)
    return TokenVerifier(
        keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway=settings.jwt_leeway_seconds,
        revocations=RevocationList(
            url="/auth/.well-known/revoked-tokens.json",
            client_factory=auth_client,
            refresh_seconds=settings.token_revocation_refresh_seconds,
        ),
    )


def health_handlers(db: Database) -> list[ControllerRouterHandler]:
    @get("/healthz", include_in_schema=False, sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", include_in_schema=False)
    async def readyz() -> Response[dict[str, str]]:
        if lifecycle.draining():
            return Response({"status": "draining"}, status_code=503)
        ok = await db.ping()
        return Response({"status": "ok" if ok else "unavailable"}, status_code=200 if ok else 503)

    @get("/metrics", include_in_schema=False, sync_to_thread=False)
    def metrics() -> Response[bytes]:
        body, content_type = metrics_payload()
        return Response(body, media_type=content_type)

    return [healthz, readyz, metrics]


def create_service_app(
    *,
    service: str,
    title: str,
    description: str,
    settings: Settings,
    db: Database,
    locator: ServiceLocator,
    route_handlers: Sequence[ControllerRouterHandler],
    dependencies: dict[str, Provide] | None = None,
    on_startup: Sequence[Callable[..., Any]] = (),
    on_shutdown: Sequence[Callable[..., Any]] = (),
    state: dict[str, Any] | None = None,
    with_health: bool = True,
    exception_handlers: dict[Any, Any] | None = None,
    middleware: Sequence[Any] = (),
) -> Litestar:
    configure_logging(settings.log_level, settings.log_format)

    async def _dispose(_: Litestar) -> None:
        await db.dispose()

    handlers = list(route_handlers)
    if with_health:
        handlers += health_handlers(db)
    capacity = 1 if db.dialect == "sqlite" else settings.database_pool_size
    instrument_pool(service, db.engine, capacity + settings.database_max_overflow)
    stack: list[Any] = [observability_middleware(service), *middleware]
    traced = tracing.middleware(settings)
    if traced is not None:
        stack.insert(0, traced)
    app = Litestar(
        route_handlers=handlers,
        dependencies={
            "session": Provide(provide_session),
            "caller": Provide(provide_caller),
            "authenticated": Provide(provide_authenticated),
            **(dependencies or {}),
        },
        exception_handlers=exception_handlers or EXCEPTION_HANDLERS,
        middleware=stack,
        guards=[access.guard],
        request_class=inputs.Request,
        plugins=[StrictStructs()],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title=title,
            version=VERSION,
            description=description,
            path=f"/{service}/docs",
            render_plugins=[
                SwaggerRenderPlugin(
                    js_url="/docs/assets/swagger-ui-bundle.js",
                    css_url="/docs/assets/swagger-ui.css",
                    standalone_preset_js_url="/docs/assets/swagger-ui-standalone-preset.js",
                )
            ],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            use_handler_docstrings=True,
        ),
        state=State({"db": db, "settings": settings, "locator": locator, **(state or {})}),
        on_startup=list(on_startup),
        on_shutdown=[*on_shutdown, _dispose],
        debug=False,
        # Logging is the kernel's (configure_logging): no second, queue-based configuration.
        logging_config=None,
    )
    app.state.verifier = build_verifier(settings, locator)
    document_errors(app)
    inputs.declare_query_names(app)
    access.declare_callers(app)
    return app
