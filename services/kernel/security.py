"""Bearer JWT verification (RFC 9068 access tokens) against a JWKS, and the caller it yields.

Keys come from ``JWT_JWKS`` (inline) or are fetched from ``JWT_JWKS_URL`` / the auth service and
cached; an unknown ``kid`` triggers a rate-limited refresh. Only asymmetric algorithms are
accepted, which rules out ``alg: none`` and HS256-with-the-public-key confusion.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Literal

import httpx
import msgspec
import structlog
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from services.kernel.identity import Caller
from services.kernel.problems import ProblemError

ALLOWED_ALGORITHMS = ["ES256", "EdDSA"]
ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt"}
log = structlog.get_logger("relais.security")


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401,
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


class KeyProvider:
    """JWKS cache. Static when given inline; otherwise fetched and refreshed on unknown kid."""

    def __init__(
        self,
        *,
        jwks: dict[str, Any] | None = None,
        url: str = "",
        client_factory: Any = None,
        min_refresh_seconds: float = 30.0,
    ) -> None:
        self._static = jwks is not None
        self._keyset = KeySet.import_key_set(jwks) if jwks else KeySet([])  # type: ignore[arg-type]
        self._url = url
        self._client_factory = client_factory
        self._min_refresh = min_refresh_seconds
        self._fetched_at = 0.0

    def replace(self, jwks: dict[str, Any]) -> None:
        self._keyset = KeySet.import_key_set(jwks)  # type: ignore[arg-type]

    async def keyset_for(self, kid: str | None) -> KeySet:
        known = kid is not None and any(k.kid == kid for k in self._keyset.keys)
        if known or self._static:
            return self._keyset
        if time.monotonic() - self._fetched_at >= self._min_refresh or not self._keyset.keys:
            await self._refresh()
        return self._keyset

    async def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        if self._client_factory is None:
            return
        try:
            async with self._client_factory() as client:
                response = await client.get(self._url)
                response.raise_for_status()
                self._keyset = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            log.warning("jwks_refresh_failed", error_type=type(exc).__name__)


class RevocationList:
    """Access tokens revoked before expiry, polled from the auth service.

    Tokens are verified offline (signature + claims), so a disabled account or a revoked client
    would otherwise keep working until its token expires. The list (random ``jti`` values only)
    is fetched at most every ``refresh_seconds``; while auth is unreachable the last list is kept
    (the offline verification still holds) and the failure is logged."""

    def __init__(self, *, url: str, client_factory: Any, refresh_seconds: float) -> None:
        self._url = url
        self._client_factory = client_factory
        self._refresh = refresh_seconds
        self._revoked: frozenset[str] = frozenset()
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def contains(self, token_id: str) -> bool:
        if time.monotonic() - self._fetched_at >= self._refresh:
            async with self._lock:  # one refresh at a time; the others then find it fresh
                if time.monotonic() - self._fetched_at >= self._refresh:
                    await self._fetch()
        return token_id in self._revoked

    async def _fetch(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            async with self._client_factory() as client:
                response = await client.get(self._url)
                response.raise_for_status()
                self._revoked = frozenset(msgspec.json.decode(response.content, type=_Revoked).jti)
        except (httpx.HTTPError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("revocation_list_refresh_failed", error_type=type(exc).__name__)


class _Revoked(msgspec.Struct):
    jti: list[str]


class _Verified(msgspec.Struct, frozen=True):
    kid: str | None
    keyset: KeySet
    claims: dict[str, Any]
    caller: Caller


class TokenVerifier:
    """Verifies access tokens. A token whose signature was checked is remembered (bounded) with
    the key set that checked it: while the provider returns that same key set for its ``kid``,
    a repeat skips parsing and the signature; the time claims are validated on every call."""

    CACHE_SIZE = 2048

    def __init__(
        self,
        keys: KeyProvider,
        *,
        issuer: str,
        audience: str,
        leeway: int,
        revocations: RevocationList | None = None,
    ) -> None:
        self.keys = keys
        self.revocations = revocations
        self._verified: dict[str, _Verified] = {}
        # Built once: it reads the clock on each validation.
        self._rules = jwt.JWTClaimsRegistry(
            now=lambda: int(time.time()),
            leeway=leeway,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
        )

    async def verify(self, token: str) -> Caller:
        caller = await self._verify(token)
        if (
            self.revocations is not None
            and caller.token_id is not None
            and await self.revocations.contains(caller.token_id)
        ):
            raise unauthorized("Jeton d'accès révoqué.")
        return caller

    async def _verify(self, token: str) -> Caller:
        known = self._verified.get(token)
        if known is not None and await self.keys.keyset_for(known.kid) is known.keyset:
            self._validate(known.claims)
            return known.caller
        try:
            header = (
                jws.extract_compact(token.encode()).protected if token.count(".") == 2 else None
            )
        except (JoseError, ValueError):
            header = None
        if not header or header.get("alg") not in ALLOWED_ALGORITHMS:
            raise unauthorized("Jeton d'accès invalide.")
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            # RFC 9068 §4: an ID token or another JWT signed by the same key is no access token.
            raise unauthorized("Jeton d'accès invalide (type).")
        keyset = await self.keys.keyset_for(header.get("kid"))
        try:
            decoded = jwt.decode(token, keyset, algorithms=ALLOWED_ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise unauthorized("Jeton d'accès invalide.") from exc
        claims = decoded.claims
        self._validate(claims)
        caller = caller_from_claims(claims)
        if len(self._verified) >= self.CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = _Verified(header.get("kid"), keyset, claims, caller)
        return caller

    def _validate(self, claims: dict[str, Any]) -> None:
        # nbf and iat (when present) are checked too, with the same leeway (clock skew).
        try:
            self._rules.validate(claims)
        except JoseError as exc:
            raise unauthorized("Jeton d'accès expiré ou non valable pour ce service.") from exc


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    structure = claims.get("structure_id")
    try:
        structure_id = uuid.UUID(str(structure)) if structure else None
    except ValueError as exc:
        raise unauthorized("Jeton d'accès invalide (structure_id).") from exc
    roles = claims.get("roles") or []
    scope = claims.get("scope") or ""
    if not isinstance(roles, list) or not isinstance(scope, str):
        raise unauthorized("Jeton d'accès invalide (roles/scope).")
    client_id = claims.get("client_id")
    kind: Literal["user", "client"] = (
        "client" if client_id is not None and claims.get("sub") == client_id else "user"
    )
    return Caller(
        subject=str(claims["sub"]),
        kind=kind,
        client_id=str(client_id) if client_id is not None else None,
        structure_id=structure_id,
        roles=frozenset(str(r) for r in roles),
        scopes=frozenset(scope.split()),
        token_id=str(claims["jti"]) if claims.get("jti") else None,
    )


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("En-tête Authorization attendu : « Bearer <jeton> ».")
    return token.strip()
