"""The grants Relais accepts: authorization code with PKCE S256 (staff signing in to an
application), refresh token with rotation, client credentials (a tool acting for its structure)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, TokenMixin
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.oauth.adapter import (
    TOKEN_AUTH_METHODS,
    OAuthClient,
    OAuthResult,
    RelaisRequest,
)
from services.auth.store import accounts, tokens
from services.auth.store.accounts import Principal
from services.auth.store.tokens import CodeInfo, RefreshInfo
from services.kernel.clock import utcnow
from services.kernel.db import new_uuid

if TYPE_CHECKING:
    from services.auth.oauth.server import RelaisServer

CODE_TTL_SECONDS = 300


class CodeRecord(AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, info: CodeInfo) -> None:
        self.info = info
        self.code_challenge = info.code_challenge
        self.code_challenge_method = info.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.info.redirect_uri

    def get_scope(self) -> str:
        return self.info.scope


class RefreshRecord(TokenMixin):  # type: ignore[misc]
    def __init__(self, info: RefreshInfo) -> None:
        self.info = info

    def check_client(self, client: OAuthClient) -> bool:
        return self.info.client_id == client.client_id

    def get_scope(self) -> str:
        return self.info.scope


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE is mandatory for every authorization code, with S256 only (no ``plain``)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE: 'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    server: RelaisServer

    def save_authorization_code(self, code: str, request: RelaisRequest) -> None:
        user: Principal = request.user
        data = request.payload.data
        info = CodeInfo(
            client_id=request.client.client_id,
            account_id=user.account_id,
            structure_id=user.structure_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            nonce=(data.get("nonce") or None),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            family_id=new_uuid(),
            auth_time=user.auth_time or utcnow(),
        )
        self.server.bridge(tokens.save_code, code, info, CODE_TTL_SECONDS)

    def query_authorization_code(self, code: str, client: OAuthClient) -> CodeRecord | None:
        info = self.server.bridge(tokens.consume_code, code, client.client_id)
        return CodeRecord(info) if info else None

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        """Already marked used by ``query_authorization_code``."""

    def authenticate_user(self, authorization_code: CodeRecord) -> Principal | None:
        info = authorization_code.info
        return self.server.bridge(
            accounts.principal, info.account_id, info.structure_id, info.auth_time
        )


class RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    """Rotation on every use; reuse of a rotated token revokes the family. ``structure_id`` in
    the request switches the structure the person acts for (if they belong to it)."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    server: RelaisServer

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshRecord | None:
        # Refuse scope escalation before rotating, so a refused request does not burn the token.
        current = self.server.bridge(_refresh_scope, refresh_token)
        requested = self.request.payload.scope
        if (
            current is not None
            and requested
            and not set(scope_to_list(requested)) <= set(scope_to_list(current))
        ):
            raise InvalidScopeError("The requested scope exceeds the original grant.")
        info = self.server.bridge(tokens.rotate_refresh, refresh_token)
        return RefreshRecord(info) if info else None

    def authenticate_user(self, refresh_token: RefreshRecord) -> Principal:
        info = refresh_token.info
        structure_id = info.structure_id
        wanted = self.request.form.get("structure_id")
        if wanted:
            try:
                structure_id = uuid.UUID(wanted)
            except ValueError as exc:
                raise InvalidRequestError("Invalid 'structure_id'.") from exc
        user = self.server.bridge(accounts.principal, info.account_id, structure_id, None)
        if user is None:
            raise InvalidGrantError("The account is inactive or not a member of this structure.")
        return user  # type: ignore[no-any-return]

    def revoke_old_credential(self, refresh_token: RefreshRecord) -> None:
        """Already rotated by ``authenticate_refresh_token``."""


class ClientGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: OAuthClient = self.request.client
        if client.info.structure_id is None:
            raise UnauthorizedClientError("The client is not bound to a structure.")
        requested = scope_to_list(self.request.payload.scope) or list(client.info.scopes)
        if not set(requested) <= set(client.info.scopes):
            raise InvalidScopeError("The requested scope exceeds the client's allowed scopes.")
        self.request.scope = " ".join(requested)

    def create_token_response(self) -> OAuthResult:
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


async def _refresh_scope(session: AsyncSession, token: str) -> str | None:
    row = await tokens.find_refresh(session, token)
    return row.scope if row else None
