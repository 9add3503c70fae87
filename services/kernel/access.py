"""Who may call an operation, decided before its request is read.

A guard on every route answers in this order: 401 when the operation needs a caller and the
request has none; 403 when an API client lacks the scope the operation declares; 428 when a
versioned write has no ``If-Match`` (``services.kernel.openapi.IF_MATCH``); then the query and
path rules of ``services.kernel.inputs`` (400); only then is the body read and validated
(400/422). So a client without ``referrals:write`` learns that, not the details of
its body's errors.

- An operation's scopes are declared once, on its controller or route:
  ``opt={CLIENT_SCOPES: ClientScopes(read=Scope.REFERRALS_READ, write=Scope.REFERRALS_WRITE)}``.
  Safe methods need the read scope (the write scope includes it), others the write scope; a
  ``None`` scope means API clients need none (e.g. public directory reads). People are checked by
  their roles in the handlers, which also check the structure a client is bound to.
- The token is verified once per request; ``caller`` and ``authenticated`` reuse the result.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from litestar.routes import HTTPRoute

from services.kernel import inputs
from services.kernel.identity import Caller, Scope
from services.kernel.openapi import (
    AUTHENTICATED,
    IF_MATCH,
    REQUIRED,
    SAFE_METHODS,
    dependency_names,
)
from services.kernel.problems import ProblemError
from services.kernel.security import TokenVerifier, bearer_token

CLIENT_SCOPES = "client_scopes"
NEEDS_CALLER = "needs_caller"  # route opt, set at startup: the operation needs `authenticated`
_CALLER = "relais_caller"  # where a request's verified caller is kept (scope state)


@dataclass(frozen=True)
class ClientScopes:
    read: Scope | None = None
    write: Scope | None = None

    def needed(self, method: str) -> Scope | None:
        return self.read if method in SAFE_METHODS else self.write

    def granted(self, caller: Caller, method: str) -> bool:
        needed = self.needed(method)
        if needed is None:
            return True
        return caller.has_scope(needed) or (
            needed == self.read and self.write is not None and caller.has_scope(self.write)
        )


def unauthenticated() -> ProblemError:
    return ProblemError(401, "Authentification requise.", headers={"WWW-Authenticate": "Bearer"})


async def caller_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller | None:
    """The request's caller, from its bearer token (verified once per request)."""
    state = connection.scope.setdefault("state", {})  # type: ignore[typeddict-item]
    if _CALLER not in state:
        token = bearer_token(connection.headers.get("authorization"))
        verifier: TokenVerifier = connection.app.state.verifier
        state[_CALLER] = None if token is None else await verifier.verify(token)
    caller: Caller | None = state[_CALLER]
    return caller


async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The app-wide guard: caller (401), client scope (403), query and path (400)."""
    needs_caller = handler.opt.get(NEEDS_CALLER, False)
    scopes: ClientScopes | None = handler.opt.get(CLIENT_SCOPES)
    if needs_caller or scopes is not None:
        caller = await caller_of(connection)
        if caller is None and needs_caller:
            raise unauthenticated()
        method = str(connection.scope.get("method", "GET"))
        if (
            caller is not None
            and caller.kind == "client"
            and scopes is not None
            and not scopes.granted(caller, method)
        ):
            needed = scopes.needed(method)
            raise ProblemError(
                403,
                f"Ce client n'a pas la portée « {needed} ».",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{needed}"'},
            )
    if (
        handler.opt.get(IF_MATCH) == REQUIRED
        and connection.scope.get("method") not in SAFE_METHODS
        and not connection.headers.get("if-match", "").strip()
    ):
        raise ProblemError(
            428,
            "En-tête If-Match requis : renvoyez l'ETag (la version) lu avec GET pour ne pas "
            "écraser une modification concurrente.",
        )
    inputs.check_parameters(connection.scope)


def declare_callers(app: Litestar) -> None:
    """Record on each route handler whether it needs an authenticated caller."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler, _ in route.route_handler_map.values():
                if isinstance(handler, HTTPRouteHandler):
                    handler.opt[NEEDS_CALLER] = AUTHENTICATED in dependency_names(handler)


def _trusted(host: str, allowed: str) -> bool:
    for item in (part.strip() for part in allowed.split(",")):
        if item == "*":
            return True
        if not item:
            continue
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            if host == item:
                return True
    return False


def client_address(connection: ASGIConnection[Any, Any, Any, Any], allowed: str) -> str:
    """The address a request comes from, for throttling: the peer, or, when the peer is a
    trusted proxy (``FORWARDED_ALLOW_IPS``, as uvicorn reads it), the last address it forwarded
    — the web app forwards the person's address when it calls an API for them."""
    client = connection.client
    host = client.host if client else "unknown"
    forwarded = connection.headers.get("x-forwarded-for", "")
    if forwarded and _trusted(host, allowed):
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:60]
    return host[:60]
