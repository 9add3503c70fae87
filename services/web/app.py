"""The staff web app: server-rendered French pages over the three services' public APIs.

It reads and writes only through those APIs (``services.web.clients``), signed in through
``/auth`` as an OpenID Connect client like any other, and keeps its own tables for sessions
and referral forms being filled in.
Each feature (``features/<name>/``) brings its routes and templates.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from litestar import Litestar
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from services.kernel.app import create_service_app
from services.kernel.db import Database
from services.kernel.firstparty import WEB_CLIENT_ID, web_client_secret
from services.kernel.http import ServiceLocator
from services.kernel.inputs import ANY_QUERY
from services.kernel.settings import Settings
from services.web.clients.auth import OidcApi
from services.web.crypto import Sealer
from services.web.deps import DEPENDENCIES
from services.web.drafts import Drafts
from services.web.errors import EXCEPTION_HANDLERS
from services.web.features import ROUTES
from services.web.features.orientations.names import StructureNames
from services.web.labels import Labels
from services.web.rendering import STATIC
from services.web.sessions import Sessions

SERVICE_NAME = "web"
MIGRATIONS = Path(__file__).parent / "migrations"
APIS = ("directory", "referrals", "auth")


def create_app(settings: Settings, locator: ServiceLocator) -> Litestar:
    db = Database(settings, SERVICE_NAME)
    http: dict[str, httpx.AsyncClient] = {}
    secret = web_client_secret(settings)
    sealer = Sealer(secret)

    async def open_clients(app: Litestar) -> None:
        # One long-lived client per API (connection reuse), built once every app is registered.
        for name in APIS:
            http[name] = locator.client(name)
        app.state.sessions.oidc.http = http["auth"]

    async def close_clients(_: Litestar) -> None:
        for client in http.values():
            await client.aclose()
        http.clear()

    oidc = OidcApi(None, WEB_CLIENT_ID, secret)
    static = create_static_files_router(
        path="/static",
        directories=[STATIC],
        include_in_schema=False,
        # Asset URLs carry a digest of the file (rendering.static_url): cache them for long.
        cache_control=CacheControlHeader(max_age=31_536_000, public=True),
        send_as_attachment=False,
        # The digest rides in the query string (?v=…), which the kernel otherwise refuses.
        opt={ANY_QUERY: True},
    )
    app = create_service_app(
        service=SERVICE_NAME,
        title="Relais — application des agents",
        description="Pages web (HTML), hors API publique.",
        settings=settings,
        db=db,
        locator=locator,
        route_handlers=[*ROUTES, static],
        dependencies=DEPENDENCIES,
        on_startup=[open_clients],
        on_shutdown=[close_clients],
        state={
            "http": http,
            "labels": Labels(),
            "sessions": Sessions(settings, db, oidc, sealer),
            "drafts": Drafts(db, sealer),
            "sealer": sealer,
            "structure_names": StructureNames(),
        },
        with_health=False,
        exception_handlers=EXCEPTION_HANDLERS,
    )
    return app
