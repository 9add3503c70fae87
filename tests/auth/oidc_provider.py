"""A small but real OpenID Connect provider behaving like ProConnect, served by uvicorn.

Authorization code flow with PKCE S256, ``client_secret_post``, RS256-signed ID tokens, userinfo
returned as a signed JWT (``application/jwt``), and ProConnect's demands: ``state`` and ``nonce``
of at least 32 characters, scopes ``openid given_name usual_name email siret``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from litestar import Litestar, Request, Response, get, post
from litestar.response import Redirect


@dataclass
class ProviderState:
    issuer: str = ""
    client_id: str = "relais-test"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    redirect_uris: list[str] = field(default_factory=list)
    user: dict[str, Any] = field(default_factory=dict)
    wrong_nonce: bool = False
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, parameters={"kid": "pc-1", "alg": "RS256"}
        )
    )
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)


def create_provider(state: ProviderState) -> Litestar:
    def error(status: int, code: str) -> Response[Any]:
        return Response({"error": code}, status_code=status)

    @get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": state.issuer,
            "authorization_endpoint": f"{state.issuer}/authorize",
            "token_endpoint": f"{state.issuer}/token",
            "userinfo_endpoint": f"{state.issuer}/userinfo",
            "jwks_uri": f"{state.issuer}/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
            "userinfo_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
        }

    @get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": [state.key.as_dict(private=False)]}

    @get("/authorize")
    async def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
        q = {k: str(v) for k, v in request.query_params.items()}
        state.authorize_requests.append(q)
        if (
            q.get("client_id") != state.client_id
            or q.get("redirect_uri") not in state.redirect_uris
        ):
            return error(400, "invalid_request")
        if len(q.get("state", "")) < 32 or len(q.get("nonce", "")) < 32:
            return error(400, "invalid_request")
        if q.get("code_challenge_method") != "S256" or "openid" not in q.get("scope", "").split():
            return error(400, "invalid_request")
        code = secrets.token_urlsafe(24)
        state.codes[code] = {**q, "user": dict(state.user)}
        target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
        return Redirect(target, status_code=302)

    @post("/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if (
            form.get("client_id") != state.client_id
            or form.get("client_secret") != state.client_secret
        ):
            return error(401, "invalid_client")
        grant = state.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return error(400, "invalid_grant")
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["code_challenge"]:
            return error(400, "invalid_grant")
        now = int(time.time())
        user = grant["user"]
        id_token = jwt.encode(
            {"alg": "RS256", "kid": "pc-1"},
            {
                "iss": state.issuer,
                "aud": state.client_id,
                "sub": user["sub"],
                "iat": now,
                "exp": now + 60,
                "nonce": "wrong-" + grant["nonce"] if state.wrong_nonce else grant["nonce"],
                "acr": "eidas1",
            },
            state.key,
        )
        access = secrets.token_urlsafe(24)
        state.access_tokens[access] = user
        return Response(
            {"access_token": access, "token_type": "Bearer", "expires_in": 60, "id_token": id_token}
        )

    @get("/userinfo")
    async def userinfo(request: Request[Any, Any, Any]) -> Response[Any]:
        auth = request.headers.get("authorization", "")
        user = state.access_tokens.get(auth.removeprefix("Bearer "))
        if user is None:
            return error(401, "invalid_token")
        signed = jwt.encode(
            {"alg": "RS256", "kid": "pc-1"}, {"iss": state.issuer, **user}, state.key
        )
        return Response(signed.encode(), media_type="application/jwt")

    return Litestar([discovery, jwks, authorize, token, userinfo])


class RunningProvider:
    """The provider on a random localhost port, in a thread."""

    def __init__(self) -> None:
        self.state = ProviderState()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        port = self.sock.getsockname()[1]
        self.state.issuer = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_provider(self.state), log_level="warning", lifespan="off", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> RunningProvider:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("OIDC provider did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
