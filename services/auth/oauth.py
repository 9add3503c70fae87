"""authlib's (synchronous) authorization server, run in a worker thread.

Each OAuth request builds a small ``RelaisServer`` bound to the request's async database
session. The handler runs authlib in a worker thread (``anyio.to_thread.run_sync``); whenever
authlib needs the database, the thread hands an async query back to the event loop with
``anyio.from_thread.run`` and waits for it. So the loop is never blocked, every query runs on the
loop with the same async engine and transaction as the rest of the request, and no second
(sync) driver or connection pool is needed.

Codes and refresh tokens are single use: "used" is recorded with an ``UPDATE … WHERE used IS
NULL`` so exactly one concurrent request wins; the loser (a replay) revokes the whole family.
"""

from __future__ import annotations

import binascii
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import anyio.from_thread
import anyio.to_thread
import structlog
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    TokenMixin,
)
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
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.crypto import random_token
from services.auth.keys import KeySnapshot
from services.auth.store import accounts, clients, tokens
from services.auth.store.accounts import Principal
from services.auth.store.clients import ClientInfo
from services.auth.store.tokens import CodeInfo, IssuedToken, RefreshInfo
from services.kernel.clock import utcnow
from services.kernel.db import new_uuid
from services.kernel.identity import Scope
from services.kernel.settings import Settings

CODE_TTL_SECONDS = 300
log = structlog.get_logger("relais.auth.oauth")
# authlib logs issued tokens at DEBUG level: never let them reach the logs.
logging.getLogger("authlib").setLevel(logging.WARNING)
USER_SCOPES = ("openid", "profile", "email")
SCOPES_SUPPORTED = [*USER_SCOPES, *(s.value for s in Scope)]
TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
CONFIDENTIAL_METHODS = {"client_secret_basic", "client_secret_post"}
# The URI authlib sees: TLS is enforced where it terminates (RELAIS_BASE_URL, reverse proxy).
_INTERNAL_ORIGIN = "https://relais.internal"

T = TypeVar("T")
OAuthResult = tuple[int, Any, list[tuple[str, str]]]


@dataclass(frozen=True)
class RawRequest:
    """A framework-neutral snapshot of the HTTP request, safe to read from the worker thread."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: dict[str, list[str]]
    form: dict[str, list[str]]


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, datalist: dict[str, list[str]]) -> None:
        self._datalist = datalist
        self._data = {k: v[0] for k, v in datalist.items() if v}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:  # type: ignore[override]
        return self._datalist


class RelaisRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, raw: RawRequest) -> None:
        super().__init__(raw.method, _INTERNAL_ORIGIN + raw.path, headers=raw.headers)
        merged: dict[str, list[str]] = {k: list(v) for k, v in raw.query.items()}
        if raw.method == "POST":
            for key, values in raw.form.items():
                merged.setdefault(key, []).extend(values)
        self.payload = _Payload(merged)
        self._args = {k: v[0] for k, v in raw.query.items() if v}
        self._form = {k: v[0] for k, v in raw.form.items() if v}

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class OAuthClient(ClientMixin):  # type: ignore[misc]
    def __init__(self, info: ClientInfo) -> None:
        self.info = info
        self.client_id = info.client_id

    def get_client_id(self) -> str:
        return self.info.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # redirect_uri is always required and matched exactly

    def get_allowed_scope(self, scope: str | None) -> str | None:
        if not scope:
            return " ".join(self.info.scopes)
        requested = scope_to_list(scope)
        if not set(requested) <= set(self.info.scopes):
            return None
        return " ".join(requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.info.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        from services.auth.crypto import same_digest

        return same_digest(client_secret, self.info.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.info.auth_method == "none":
            return method == "none"
        return method in CONFIDENTIAL_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.info.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.info.grant_types


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


@dataclass
class TokenRecord(TokenMixin):  # type: ignore[misc]
    """A token found for introspection or revocation."""

    kind: str  # access_token | refresh_token
    live: bool
    client_id: str
    jti: str | None = None
    family_id: uuid.UUID | None = None
    claims: dict[str, Any] | None = None

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id == client.client_id

    def is_expired(self) -> bool:
        return not self.live

    def is_revoked(self) -> bool:
        return not self.live


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


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662. A client may introspect the tokens issued to it."""

    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS
    server: RelaisServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return self.server.find_token(token_string)

    def check_permission(self, token: TokenRecord, client: OAuthClient, request: Any) -> bool:
        return token.client_id == client.client_id

    def introspect_token(self, token: TokenRecord) -> dict[str, Any]:
        if token.claims is None:
            return {"active": True, "token_type": "refresh_token", "client_id": token.client_id}
        claims = token.claims
        body: dict[str, Any] = {
            key: claims[key]
            for key in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti")
            if key in claims
        }
        body.update(
            active=True,
            token_type="Bearer",  # noqa: S106
            structure_id=claims.get("structure_id"),
            roles=claims.get("roles", []),
        )
        return body


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Revoking a refresh token revokes its family (and the family's access tokens)."""

    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS
    server: RelaisServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return self.server.find_token(token_string)

    def revoke_token(self, token: TokenRecord, request: Any) -> None:
        if token.kind == "refresh_token" and token.family_id is not None:
            self.server.bridge(tokens.revoke_family, token.family_id)
        elif token.jti is not None:
            self.server.bridge(_revoke_access, token.jti)


async def _refresh_scope(session: AsyncSession, token: str) -> str | None:
    row = await tokens.find_refresh(session, token)
    return row.scope if row else None


async def _revoke_access(session: AsyncSession, jti: str) -> None:
    row = await tokens.access_token(session, jti)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


async def _find_access(session: AsyncSession, jti: str) -> tuple[bool, str] | None:
    row = await tokens.access_token(session, jti)
    if row is None:
        return None
    return await tokens.token_is_live(session, row), row.client_id


async def _find_refresh(session: AsyncSession, token: str) -> TokenRecord | None:
    row = await tokens.find_refresh(session, token)
    if row is None:
        return None
    live = await tokens.token_is_live(session, row)
    return TokenRecord(
        kind="refresh_token", live=live, client_id=row.client_id, family_id=row.family_id
    )


class RelaisServer(AuthorizationServer):  # type: ignore[misc]
    """One per request: bound to the request's session and to the current signing keys."""

    def __init__(self, session: AsyncSession, settings: Settings, keys: KeySnapshot) -> None:
        super().__init__(scopes_supported=SCOPES_SUPPORTED)
        self.session = session
        self.settings = settings
        self.keys = keys
        self.current: RelaisRequest | None = None
        self.issued: IssuedToken | None = None
        self.register_token_generator("default", self._generate)
        self.register_grant(CodeGrant, [S256Challenge(required=True)])
        self.register_grant(RefreshGrant)
        self.register_grant(ClientGrant)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)

    # --- bridge to the event loop ---------------------------------------------------------

    def bridge(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        return anyio.from_thread.run(fn, self.session, *args)

    # --- authlib framework hooks ----------------------------------------------------------

    def query_client(self, client_id: str) -> OAuthClient | None:
        if not isinstance(client_id, str) or len(client_id) > 64:
            return None
        info = self.bridge(clients.client_by_id, client_id)
        return OAuthClient(info) if info else None

    def save_token(self, token: dict[str, Any], request: RelaisRequest) -> None:
        if self.issued is not None:
            self.bridge(tokens.save_issued, self.issued)

    def create_oauth2_request(self, request: Any) -> RelaisRequest:
        if isinstance(request, RelaisRequest):
            self.current = request
        else:
            self.current = RelaisRequest(request)
        return self.current

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> OAuthResult:
        return status, body, list(headers or [])

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    # --- tokens ---------------------------------------------------------------------------

    def _generate(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Principal | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        settings = self.settings
        now = utcnow()
        ttl = settings.auth_access_token_ttl_seconds
        jti = random_token(16)
        scope = scope or ""
        if user is None:
            subject, structure_id, roles = client.client_id, client.info.structure_id, []
        else:
            subject, structure_id, roles = str(user.account_id), user.structure_id, list(user.roles)
        claims: dict[str, Any] = {
            "iss": settings.jwt_issuer,
            "sub": subject,
            "aud": settings.jwt_audience,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + ttl,
            "jti": jti,
            "client_id": client.client_id,
            "scope": scope,
            "roles": roles,
        }
        if structure_id is not None:
            claims["structure_id"] = str(structure_id)
        signer = self.keys.signer
        header = {"alg": signer.alg, "kid": signer.kid, "typ": "at+jwt"}
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": jwt.encode(header, claims, signer.key),
            "expires_in": ttl,
            "scope": scope,
        }
        request = self.current
        family_id: uuid.UUID | None = None
        refresh_expires = None
        nonce = None
        auth_time = None
        if request is not None and isinstance(request.authorization_code, CodeRecord):
            family_id = request.authorization_code.info.family_id
            nonce = request.authorization_code.info.nonce
            auth_time = request.authorization_code.info.auth_time
            refresh_expires = now + timedelta(seconds=settings.auth_refresh_token_ttl_seconds)
        elif request is not None and isinstance(request.refresh_token, RefreshRecord):
            family_id = request.refresh_token.info.family_id
            refresh_expires = request.refresh_token.info.expires_at
        refresh = None
        if include_refresh_token and user is not None and family_id is not None:
            refresh = random_token(32)
            token["refresh_token"] = refresh
        if user is not None and "openid" in scope.split() and grant_type == "authorization_code":
            token["id_token"] = self._id_token(client, user, nonce, auth_time, now.timestamp())
        self.issued = IssuedToken(
            jti=jti,
            client_id=client.client_id,
            account_id=user.account_id if user else None,
            structure_id=structure_id,
            scope=scope,
            roles=roles,
            issued_at=now,
            expires_at=now + timedelta(seconds=ttl),
            family_id=family_id,
            refresh_token=refresh,
            refresh_expires_at=refresh_expires,
        )
        return token

    def _id_token(
        self,
        client: OAuthClient,
        user: Principal,
        nonce: str | None,
        auth_time: Any,
        now: float,
    ) -> str:
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer,
            "sub": str(user.account_id),
            "aud": client.client_id,
            "iat": int(now),
            "exp": int(now) + self.settings.auth_access_token_ttl_seconds,
            "email": user.email,
            "email_verified": user.email_verified,
            "name": user.name,
        }
        if nonce:
            claims["nonce"] = nonce
        if auth_time is not None:
            claims["auth_time"] = int(auth_time.timestamp())
        signer = self.keys.signer
        return jwt.encode({"alg": signer.alg, "kid": signer.kid, "typ": "JWT"}, claims, signer.key)

    def find_token(self, token_string: str) -> TokenRecord | None:
        if not isinstance(token_string, str) or len(token_string) > 4096:
            return None
        if token_string.count(".") == 2:
            claims = self.decode_access_token(token_string)
            if claims is None or not isinstance(claims.get("jti"), str):
                return None
            found = self.bridge(_find_access, claims["jti"])
            if found is None:
                return None
            live, client_id = found
            live = live and int(claims.get("exp", 0)) > time.time()
            return TokenRecord(
                kind="access_token",
                live=live,
                client_id=client_id,
                jti=claims["jti"],
                claims=claims,
            )
        return self.bridge(_find_refresh, token_string)

    def decode_access_token(self, token: str) -> dict[str, Any] | None:
        keyset = KeySet(list(self.keys.verification_keys.values()))
        try:
            decoded = jwt.decode(token, keyset, algorithms=["ES256"])
        except (JoseError, ValueError, TypeError):
            return None
        if decoded.claims.get("iss") != self.settings.jwt_issuer:
            return None
        return dict(decoded.claims)


def oauth_error(error: OAuth2Error) -> OAuthResult:
    status, body, headers = error()
    return status, body, list(headers)


async def run_authlib(
    session: AsyncSession,
    settings: Settings,
    keys: KeySnapshot,
    work: Callable[[RelaisServer], T],
) -> T:
    """Run ``work`` (authlib calls) in a worker thread, database calls bridged to the loop."""
    server = RelaisServer(session, settings, keys)
    return await anyio.to_thread.run_sync(work, server)


async def run_oauth(
    session: AsyncSession,
    settings: Settings,
    keys: KeySnapshot,
    work: Callable[[RelaisServer], OAuthResult],
) -> OAuthResult:
    """Like ``run_authlib``; OAuth errors become their RFC 6749 response."""

    def guarded(server: RelaisServer) -> OAuthResult:
        try:
            return work(server)
        except OAuth2Error as error:
            return oauth_error(error)
        except (UnicodeError, binascii.Error) as exc:
            # Malformed input authlib does not anticipate (bad bytes in HTTP Basic…).
            log.warning("oauth_malformed_request", error_type=type(exc).__name__)
            return oauth_error(InvalidRequestError("Malformed request."))

    return await run_authlib(session, settings, keys, guarded)
