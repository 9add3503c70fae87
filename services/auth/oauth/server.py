"""The authorization server of one request (bound to its session and the current signing keys),
the tokens it signs, and how a handler runs it in a worker thread."""

from __future__ import annotations

import binascii
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import anyio.from_thread
import anyio.to_thread
import structlog
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.crypto import random_token
from services.auth.keys import KeySnapshot
from services.auth.oauth.adapter import OAuthClient, OAuthResult, RelaisRequest
from services.auth.oauth.grants import (
    ClientGrant,
    CodeGrant,
    CodeRecord,
    RefreshGrant,
    RefreshRecord,
    S256Challenge,
)
from services.auth.oauth.introspection import (
    Introspection,
    Revocation,
    TokenRecord,
    find_access,
    find_refresh,
)
from services.auth.store import clients, tokens
from services.auth.store.accounts import Principal
from services.auth.store.tokens import IssuedToken
from services.kernel.clock import utcnow
from services.kernel.identity import Scope
from services.kernel.settings import Settings

log = structlog.get_logger("relais.auth.oauth")
# authlib logs issued tokens at DEBUG level: never let them reach the logs.
logging.getLogger("authlib").setLevel(logging.WARNING)
USER_SCOPES = ("openid", "profile", "email")
SCOPES_SUPPORTED = [*USER_SCOPES, *(s.value for s in Scope)]

T = TypeVar("T")


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
            found = self.bridge(find_access, claims["jti"])
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
        return self.bridge(find_refresh, token_string)

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
