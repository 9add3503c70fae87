"""Login through an upstream OpenID Connect provider (ProConnect-compatible).

Authorization code flow with PKCE S256, ``state`` and ``nonce`` of 43 characters, client
authentication by ``client_secret_post``. The ID token is verified against the provider's JWKS
(asymmetric algorithms only): issuer, audience, expiry, nonce. Userinfo may be JSON or a signed
JWT (ProConnect answers ``application/jwt``); its ``sub`` must match the ID token's.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from services.kernel.settings import Settings

UPSTREAM_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
CACHE_SECONDS = 300.0


class UpstreamError(Exception):
    """The upstream provider failed or answered something we cannot trust."""


class Upstream:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = settings.auth_upstream_issuer.rstrip("/")
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._loaded_at = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.settings.auth_upstream_client_id)

    @property
    def redirect_uri(self) -> str:
        return f"{self.settings.base_url.rstrip('/')}/auth/federation/callback"

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.settings.service_timeout_seconds)

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is not None and time.monotonic() - self._loaded_at < CACHE_SECONDS:
            return self._metadata
        try:
            async with self._client() as client:
                response = await client.get(f"{self.issuer}/.well-known/openid-configuration")
                response.raise_for_status()
                metadata = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise UpstreamError("discovery failed") from exc
        if not isinstance(metadata, dict) or metadata.get("issuer", "").rstrip("/") != self.issuer:
            raise UpstreamError("discovery issuer mismatch")
        self._metadata, self._keys, self._loaded_at = metadata, None, time.monotonic()
        return metadata

    async def keys(self, *, refresh: bool = False) -> KeySet:
        if self._keys is not None and not refresh:
            return self._keys
        metadata = await self.metadata()
        try:
            async with self._client() as client:
                response = await client.get(str(metadata["jwks_uri"]))
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, KeyError, JoseError) as exc:
            raise UpstreamError("jwks failed") from exc
        return self._keys

    async def authorize_url(self, *, state: str, nonce: str, code_challenge: str) -> str:
        metadata = await self.metadata()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.auth_upstream_client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.settings.auth_upstream_scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        endpoint = str(metadata["authorization_endpoint"])
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def _decode(self, token: str) -> dict[str, Any]:
        for refresh in (False, True):
            keys = await self.keys(refresh=refresh)
            try:
                return dict(jwt.decode(token, keys, algorithms=UPSTREAM_ALGORITHMS).claims)
            except JoseError as exc:
                if refresh:
                    raise UpstreamError("invalid signature") from exc
            except ValueError as exc:
                raise UpstreamError("malformed token") from exc
        raise UpstreamError("unreachable")

    async def login(self, *, code: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code; return verified claims (ID token merged with userinfo)."""
        metadata = await self.metadata()
        try:
            async with self._client() as client:
                response = await client.post(
                    str(metadata["token_endpoint"]),
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": self.redirect_uri,
                        "code_verifier": code_verifier,
                        "client_id": self.settings.auth_upstream_client_id,
                        "client_secret": self.settings.auth_upstream_client_secret,
                    },
                )
                response.raise_for_status()
                tokens = response.json()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise UpstreamError("token exchange failed") from exc
        if not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
            raise UpstreamError("no id_token")
        claims = await self._decode(tokens["id_token"])
        registry = jwt.JWTClaimsRegistry(
            leeway=self.settings.jwt_leeway_seconds,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.settings.auth_upstream_client_id},
            exp={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise UpstreamError(f"id_token rejected ({exc.error})") from exc
        info = await self._userinfo(metadata, tokens.get("access_token"))
        if info.get("sub") != claims["sub"]:
            raise UpstreamError("userinfo subject mismatch")
        return {**claims, **info}

    async def _userinfo(self, metadata: dict[str, Any], access_token: Any) -> dict[str, Any]:
        endpoint = metadata.get("userinfo_endpoint")
        if not endpoint or not isinstance(access_token, str):
            raise UpstreamError("no userinfo")
        try:
            async with self._client() as client:
                response = await client.get(
                    str(endpoint), headers={"Authorization": f"Bearer {access_token}"}
                )
                response.raise_for_status()
        except httpx.HTTPError as exc:
            raise UpstreamError("userinfo failed") from exc
        if response.headers.get("content-type", "").startswith("application/jwt"):
            info = await self._decode(response.text.strip())
        else:
            try:
                info = response.json()
            except ValueError as exc:
                raise UpstreamError("userinfo malformed") from exc
        if not isinstance(info, dict):
            raise UpstreamError("userinfo malformed")
        return info


def display_name(claims: dict[str, Any]) -> str:
    parts = [claims.get("given_name"), claims.get("usual_name") or claims.get("family_name")]
    name = " ".join(str(p) for p in parts if isinstance(p, str) and p)
    return (name or str(claims.get("name") or ""))[:200]


def verified_email(claims: dict[str, Any]) -> str | None:
    """The upstream e-mail if we may trust it: ProConnect only sends verified professional
    addresses (no ``email_verified`` claim); an explicit ``email_verified: false`` is refused."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is False:
        return None
    return email.strip().lower()
