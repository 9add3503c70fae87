"""The auth service: accounts, memberships and roles, OAuth2/OIDC authorization server."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar

from services.auth import store
from services.auth.api.admin import AccountController, PasswordResetController
from services.auth.api.federation import FederationPages
from services.auth.api.logout import EndSession
from services.auth.api.oauth import DiscoveryController, TokenController
from services.auth.api.web import AuthorizationPages
from services.auth.federation import Upstream
from services.auth.keys import KeyRing
from services.kernel.app import create_service_app
from services.kernel.db import Database
from services.kernel.firstparty import (
    WEB_CLIENT_ID,
    WEB_CLIENT_NAME,
    WEB_SCOPES,
    web_client_secret,
    web_redirect_uri,
    web_signed_out_uri,
)
from services.kernel.http import ServiceLocator
from services.kernel.settings import Settings

SERVICE_NAME = "auth"
MIGRATIONS = Path(__file__).parent / "migrations"

DESCRIPTION = """\
Identity provider and OAuth2 authorization server of the Relais network.

* Access tokens are JWTs (RFC 9068) signed ES256, verified offline by the other services
  against `/auth/.well-known/jwks.json`. Claims: `iss`, `sub`, `aud`, `exp`, `iat`, `jti`,
  `client_id`, `scope`, `structure_id`, `roles`. For `client_credentials`, `sub == client_id`.
* Grants: `client_credentials` (third-party tools bound to a structure), `authorization_code`
  with PKCE S256 (staff applications, French login and structure-choice pages), `refresh_token`
  (rotated, reuse revokes the family).
* OpenID Connect RP-Initiated Logout: applications send the browser to `/auth/end-session`
  (`end_session_endpoint`) with `id_token_hint` and a registered `post_logout_redirect_uri`.
  The deployment's own staff app is a first-party client: no consent page.
* Token, introspection and revocation endpoints answer errors in the RFC 6749 format
  (`error`, `error_description`); the other endpoints use problem+json (RFC 9457).
"""


def create_app(settings: Settings, locator: ServiceLocator) -> Litestar:
    db = Database(settings, SERVICE_NAME)
    return create_service_app(
        service=SERVICE_NAME,
        title="Relais — authentification",
        description=DESCRIPTION,
        settings=settings,
        db=db,
        locator=locator,
        route_handlers=[
            DiscoveryController,
            TokenController,
            AccountController,
            PasswordResetController,
            AuthorizationPages,
            EndSession,
            FederationPages,
        ],
        state={"keyring": KeyRing(settings), "upstream": Upstream(settings)},
    )


async def after_migrate(settings: Settings, db: Database) -> None:
    """Register the staff web app (first-party OIDC client) for this deployment's base URL."""
    async with db.session() as session:
        await store.register_first_party_client(
            session,
            client_id=WEB_CLIENT_ID,
            secret=web_client_secret(settings),
            name=WEB_CLIENT_NAME,
            scopes=list(WEB_SCOPES),
            redirect_uris=[web_redirect_uri(settings)],
            post_logout_redirect_uris=[web_signed_out_uri(settings)],
        )
