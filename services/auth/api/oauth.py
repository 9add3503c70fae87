"""OAuth2 / OIDC protocol endpoints: discovery, JWKS, token, introspection, revocation, userinfo
(the end-session page of RP-initiated logout is in ``logout.py``).

Token, introspection and revocation answer in the RFC 6749 §5.2 error format (``error``,
``error_description``) that OAuth client libraries expect; everything else uses problem+json.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.api.common import key_snapshot, oauth_response, raw_request
from services.auth.models import Account
from services.auth.oauth.server import SCOPES_SUPPORTED, RelaisServer, run_oauth
from services.auth.schemas import OAuthError, OpenIDConfiguration, RevokedTokens, UserInfo
from services.auth.store import tokens
from services.kernel.identity import Caller
from services.kernel.inputs import ANY_QUERY
from services.kernel.problems import PROBLEM_RESPONSES, ProblemError
from services.kernel.settings import Settings

FORM = "application/x-www-form-urlencoded"


def _issuer(settings: Settings) -> str:
    return settings.jwt_issuer.rstrip("/")


class DiscoveryController(Controller):
    path = "/auth/.well-known"
    tags = ("OAuth2 / OpenID Connect",)

    @get("/openid-configuration", operation_id="GetOpenIDConfiguration")
    async def configuration(self, request: Request[Any, Any, Any]) -> OpenIDConfiguration:
        """OpenID Connect discovery document (also valid as RFC 8414 metadata)."""
        settings: Settings = request.app.state.settings
        issuer = _issuer(settings)
        return OpenIDConfiguration(
            issuer=issuer,
            authorization_endpoint=f"{issuer}/authorize",
            token_endpoint=f"{issuer}/token",
            userinfo_endpoint=f"{issuer}/userinfo",
            jwks_uri=f"{issuer}/.well-known/jwks.json",
            introspection_endpoint=f"{issuer}/introspect",
            revocation_endpoint=f"{issuer}/revoke",
            end_session_endpoint=f"{issuer}/end-session",
            scopes_supported=SCOPES_SUPPORTED,
            response_types_supported=["code"],
            response_modes_supported=["query"],
            grant_types_supported=["authorization_code", "refresh_token", "client_credentials"],
            code_challenge_methods_supported=["S256"],
            token_endpoint_auth_methods_supported=[
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["ES256"],
            claims_supported=[
                "sub",
                "email",
                "email_verified",
                "name",
                "structure_id",
                "roles",
            ],
        )

    @get("/jwks.json", operation_id="GetJWKS")
    async def jwks(self, request: Request[Any, Any, Any], session: AsyncSession) -> Response[Any]:
        """Public keys verifying access tokens (current, announced and recently retired)."""
        snapshot = await key_snapshot(request, session)
        return Response(snapshot.jwks, headers={"Cache-Control": "public, max-age=60"})

    @get("/revoked-tokens.json", operation_id="GetRevokedTokens")
    async def revoked_tokens(self, session: AsyncSession) -> RevokedTokens:
        """Identifiers (``jti``) of access tokens revoked before their expiry: a disabled
        account, a removed member, a revoked client or refresh family. The other services poll
        this list (TOKEN_REVOCATION_REFRESH_SECONDS) and refuse those tokens. Only random token
        ids, no personal data: public like the JWKS."""
        return RevokedTokens(jti=await tokens.revoked_access_tokens(session))


OAUTH_ERRORS = {
    400: ResponseSpec(
        OAuthError,
        generate_examples=False,
        description="RFC 6749 error: `invalid_request`, `invalid_grant`, `invalid_scope`, "
        "`unauthorized_client`, `unsupported_grant_type`",
    ),
    401: ResponseSpec(
        OAuthError,
        generate_examples=False,
        description="RFC 6749 error `invalid_client` (client authentication failed)",
    ),
}


class TokenController(Controller):
    path = "/auth"
    tags = ("OAuth2 / OpenID Connect",)

    @post(
        "/token",
        operation_id="CreateToken",
        status_code=200,
        summary="Token endpoint (RFC 6749)",
        description=(
            "Form-encoded (`application/x-www-form-urlencoded`). Grants: `client_credentials` "
            "(client authenticated by HTTP Basic or `client_secret_post`), "
            "`authorization_code` with PKCE S256 (`code`, `redirect_uri`, `code_verifier`), "
            "`refresh_token` (rotated on each use; optional `structure_id` switches the "
            "structure acted for). Errors use the RFC 6749 §5.2 format."
        ),
        responses=OAUTH_ERRORS,
        security=[],
        opt={PROBLEM_RESPONSES: False, ANY_QUERY: True},
    )
    async def token(self, request: Request[Any, Any, Any], session: AsyncSession) -> Response[Any]:
        raw = await raw_request(request)
        keys = await key_snapshot(request, session)
        settings: Settings = request.app.state.settings
        result = await run_oauth(
            session, settings, keys, lambda server: server.create_token_response(raw)
        )
        return oauth_response(result)

    @post(
        "/introspect",
        operation_id="IntrospectToken",
        status_code=200,
        summary="Token introspection (RFC 7662)",
        description="Form field `token`; the client authenticates and sees only its tokens.",
        responses=OAUTH_ERRORS,
        opt={PROBLEM_RESPONSES: False, ANY_QUERY: True},
    )
    async def introspect(
        self, request: Request[Any, Any, Any], session: AsyncSession
    ) -> Response[Any]:
        return await self._endpoint(request, session, "introspection")

    @post(
        "/revoke",
        operation_id="RevokeToken",
        status_code=200,
        summary="Token revocation (RFC 7009)",
        description="Form field `token`; revoking a refresh token revokes its whole family.",
        responses=OAUTH_ERRORS,
        opt={PROBLEM_RESPONSES: False, ANY_QUERY: True},
    )
    async def revoke(self, request: Request[Any, Any, Any], session: AsyncSession) -> Response[Any]:
        return await self._endpoint(request, session, "revocation")

    async def _endpoint(
        self, request: Request[Any, Any, Any], session: AsyncSession, name: str
    ) -> Response[Any]:
        raw = await raw_request(request)
        keys = await key_snapshot(request, session)
        settings: Settings = request.app.state.settings

        def work(server: RelaisServer) -> Any:
            return server.create_endpoint_response(name, raw)

        return oauth_response(await run_oauth(session, settings, keys, work))

    @get(
        "/userinfo",
        operation_id="GetUserInfo",
        summary="OpenID Connect userinfo",
        security=[{"bearer": []}],
        responses={},
    )
    async def userinfo(self, authenticated: Caller, session: AsyncSession) -> UserInfo:
        """The person behind a user access token (checked live: account active, token not
        revoked)."""
        if authenticated.kind != "user" or authenticated.token_id is None:
            raise ProblemError(403, "Ce jeton n'identifie pas une personne.")
        record = await tokens.access_token(session, authenticated.token_id)
        if record is None or not await tokens.token_is_live(session, record):
            raise ProblemError(
                401,
                "Jeton révoqué ou compte désactivé.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        account = await session.get(Account, record.account_id)
        assert account is not None
        return UserInfo(
            sub=str(account.id),
            email=account.email,
            email_verified=account.email_verified,
            name=account.name,
            structure_id=str(record.structure_id) if record.structure_id else None,
            roles=list(record.roles),
        )
