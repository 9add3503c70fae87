"""OpenID Connect RP-Initiated Logout 1.0: an application sends the browser to
``/auth/end-session`` to end the person's sign-in here, then gets the browser back.

- ``id_token_hint``: an ID token this server signed for the person (an expired one is accepted,
  as the specification allows); ``client_id`` must agree with its audience.
- ``post_logout_redirect_uri``: only one the client registered; ``state`` is given back to it.
  Without one, a French page says the person is signed out.
- The sign-in ends at once when the hint names the person signed in here (or nobody is). Without
  a hint, or with another person's, the person confirms first: a link from elsewhere cannot sign
  anybody out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import store
from services.auth.api.common import key_snapshot, raw_request
from services.auth.pages import (
    PREFIX,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    csrf_ok,
    message,
    render,
    session_cookie,
)
from services.kernel.settings import Settings

INVALID = "Demande de déconnexion invalide"


@dataclass(frozen=True)
class Logout:
    """A checked end-session request: whose sign-in, and where the browser goes afterwards."""

    subject: str | None
    back_to: str | None


def _hint_claims(token: str, keys: KeySet, issuer: str) -> dict[str, Any] | None:
    """The claims of an ID token this server signed (expiry not checked), or None."""
    if len(token) > 4096 or token.count(".") != 2:
        return None
    try:
        decoded = jwt.decode(token, keys, algorithms=["ES256"])
    except (JoseError, ValueError, TypeError):
        return None
    claims = dict(decoded.claims)
    if decoded.header.get("typ") == "at+jwt" or claims.get("iss") != issuer:
        return None  # an access token is not an ID token
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("aud"), str):
        return None
    return claims


def _with_state(uri: str, state: str) -> str:
    if not state:
        return uri
    parts = urlsplit(uri)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({"state": state})))


class EndSession(Controller):
    path = PREFIX
    include_in_schema = False

    async def _check(
        self, request: Request[Any, Any, Any], session: AsyncSession, params: dict[str, str]
    ) -> Logout | str:
        """The logout asked for, or why it is refused (no redirection then, per the spec)."""
        settings: Settings = request.app.state.settings
        hint, client_id = params.get("id_token_hint", ""), params.get("client_id", "")
        subject = None
        if hint:
            keys = await key_snapshot(request, session)
            claims = _hint_claims(
                hint, KeySet(list(keys.verification_keys.values())), settings.jwt_issuer
            )
            if claims is None:
                return "Le jeton d’identité fourni n’est pas valable."
            if client_id and client_id != claims["aud"]:
                return "Le jeton d’identité a été délivré à une autre application."
            subject, client_id = claims["sub"], claims["aud"]
        back_to = params.get("post_logout_redirect_uri", "")
        if not back_to:
            return Logout(subject, None)
        client = await store.client_by_id(session, client_id[:64]) if client_id else None
        if client is None or back_to not in client.post_logout_redirect_uris:
            return "Cette adresse de retour n’est pas enregistrée pour l’application."
        return Logout(subject, _with_state(back_to, params.get("state", "")[:500]))

    async def _end(
        self, request: Request[Any, Any, Any], session: AsyncSession, logout: Logout
    ) -> Response[Any]:
        await store.close_session(session, request.cookies.get(SESSION_COOKIE))
        settings: Settings = request.app.state.settings
        cookies = [session_cookie(settings, "", max_age=0)]
        if logout.back_to:
            return Response(
                b"",
                status_code=303,
                headers={**SECURITY_HEADERS, "Location": logout.back_to},
                cookies=cookies,
            )
        return render(
            request,
            "message.html",
            title="Déconnexion",
            info="Vous êtes déconnecté·e de Relais.",
            cookies=cookies,
        )

    async def _handle(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        params: dict[str, str],
        confirmed: bool,
    ) -> Response[Any]:
        logout = await self._check(request, session, params)
        if isinstance(logout, str):
            return message(request, INVALID, logout)
        found = await store.session_account(session, request.cookies.get(SESSION_COOKIE))
        if confirmed or found is None or str(found[0].id) == logout.subject:
            return await self._end(request, session, logout)
        return render(
            request,
            "logout.html",
            title="Se déconnecter de Relais ?",
            email=found[0].email,
            params=[(k, v) for k, v in params.items() if v],
        )

    @get("/end-session")
    async def end_session(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        id_token_hint: str = "",
        client_id: str = "",
        post_logout_redirect_uri: str = "",
        oauth_state: Annotated[str, Parameter(query="state")] = "",
        logout_hint: str = "",
        ui_locales: str = "",
    ) -> Response[Any]:
        params = {
            "id_token_hint": id_token_hint,
            "client_id": client_id,
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "state": oauth_state,
        }
        return await self._handle(request, session, params, confirmed=False)

    @post("/end-session", status_code=200)
    async def end_session_form(
        self, request: Request[Any, Any, Any], session: AsyncSession
    ) -> Response[Any]:
        """The same by POST (the specification allows both); from the confirmation page (with
        its CSRF token) the person has confirmed."""
        form = (await raw_request(request)).form
        params = {
            name: (form.get(name) or [""])[0]
            for name in ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
        }
        confirmed = csrf_ok(request, (form.get("csrf_token") or [""])[0])
        return await self._handle(request, session, params, confirmed)
