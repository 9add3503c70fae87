"""Sign in (OpenID Connect authorization code + PKCE at /auth), sign out, switch structure."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import timedelta
from typing import Annotated, Any

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Redirect

from services.kernel.clock import utcnow
from services.kernel.firstparty import (
    SIGNED_OUT_PATH,
    WEB_CLIENT_ID,
    WEB_SCOPES,
    web_redirect_uri,
    web_signed_out_uri,
)
from services.kernel.settings import Settings
from services.web import store
from services.web.clients.auth import AuthApi
from services.web.clients.base import ApiError, Unavailable
from services.web.clients.directory import DirectoryApi
from services.web.clients.referrals import ReferralsApi
from services.web.deps import Form, one
from services.web.models import WebSession
from services.web.rendering import SECURITY_HEADERS, query, render
from services.web.sessions import Sessions, Staff, claims_of, cookie, token_values

log = structlog.get_logger("relais.web.signin")


def safe_path(value: str | None) -> str:
    """Only a path of this site is a place to come back to (no open redirect)."""
    if (
        value
        and value.startswith("/")
        and not value.startswith(("//", "/\\"))
        and len(value) < 2000
    ):
        return value
    return "/"


def see_other(location: str, **kwargs: Any) -> Response[Any]:
    return Redirect(location, status_code=303, headers=SECURITY_HEADERS, **kwargs)


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class SignIn(Controller):
    include_in_schema = False

    @get("/connexion")
    async def start(self, request: Request[Any, Any, Any], retour: str = "/") -> Response[Any]:
        """Off to auth's login page, with a fresh state, PKCE verifier and nonce."""
        sessions: Sessions = request.app.state.sessions
        settings: Settings = request.app.state.settings
        async with sessions.db.session() as session:
            state, verifier, nonce = await store.start_sign_in(session, safe_path(retour))
        return see_other(
            query(
                "/auth/authorize",
                {
                    "response_type": "code",
                    "client_id": WEB_CLIENT_ID,
                    "redirect_uri": web_redirect_uri(settings),
                    "scope": " ".join(WEB_SCOPES),
                    "state": state,
                    "nonce": nonce,
                    "code_challenge": _challenge(verifier),
                    "code_challenge_method": "S256",
                },
            )
        )

    @get("/connexion/retour")
    async def back(
        self,
        request: Request[Any, Any, Any],
        code: str = "",
        oauth_state: Annotated[str, Parameter(query="state")] = "",
        error: str = "",
    ) -> Response[Any]:
        """Back from auth: the code becomes tokens, kept server-side; the browser gets a key."""
        sessions: Sessions = request.app.state.sessions
        settings: Settings = request.app.state.settings
        async with sessions.db.session() as session:
            pending = await store.take_sign_in(session, oauth_state) if oauth_state else None
        if pending is None:
            return render(
                request,
                "connexion/echec.html",
                status=400,
                title="Connexion interrompue",
                text="Cette tentative de connexion a expiré ou a déjà servi. Recommencez.",
            )
        if error or not code:
            return render(
                request,
                "connexion/echec.html",
                status=400 if error != "access_denied" else 200,
                title="Connexion annulée",
                text="Vous n’êtes pas connecté·e. Vous pouvez recommencer quand vous voulez.",
            )
        try:
            tokens = await sessions.oidc.exchange_code(
                code[:500], web_redirect_uri(settings), pending.code_verifier
            )
        except Unavailable:
            raise
        except ApiError as exc:
            log.info("web_code_refused", status=exc.status)
            return render(
                request,
                "connexion/echec.html",
                status=400,
                title="Connexion refusée",
                text="Le service d’authentification a refusé cette connexion. Recommencez.",
            )
        if (
            claims_of(tokens.id_token or "").get("nonce") != pending.nonce
            or not tokens.refresh_token
        ):
            return render(
                request,
                "connexion/echec.html",
                status=400,
                title="Connexion refusée",
                text="La réponse du service d’authentification n’est pas valable. Recommencez.",
            )
        http = request.app.state.http
        me = await AuthApi(http["auth"], tokens.access_token).me()
        directory = DirectoryApi(http["directory"], tokens.access_token)
        memberships = [
            {
                "structure_id": str(m.structure_id),
                "role": m.role,
                "name": await _structure_name(directory, m.structure_id),
            }
            for m in me.memberships
        ]
        claims = claims_of(tokens.access_token)
        row = WebSession(
            id=uuid.uuid4(),
            account_id=me.id,
            name=me.name,
            email=me.email,
            is_moderator=me.is_moderator,
            structure_id=me.acting_for,
            roles=list(claims.get("roles", [])),
            memberships=memberships,
        )
        now = row.created_at = row.last_seen_at = utcnow()
        row.expires_at = now + timedelta(hours=settings.web_session_max_hours)
        for name, value in token_values(sessions.sealer, row.id, tokens).items():
            setattr(row, name, value)
        async with sessions.db.session() as session:
            key = await store.open_session(session, row)
        if me.acting_for is not None:
            await _record_address(ReferralsApi(http["referrals"], tokens.access_token), me.email)
        return see_other(
            pending.next_path,
            cookies=[cookie(settings, key, max_age=settings.web_session_max_hours * 3600)],
        )

    @post("/deconnexion", status_code=303)
    async def sign_out(
        self, request: Request[Any, Any, Any], staff: Staff, form: Form
    ) -> Response[Any]:
        """End the session here, revoke its refresh token at auth, then end the sign-in at
        auth too (RP-initiated logout): « Se connecter » asks for the password again."""
        sessions: Sessions = request.app.state.sessions
        settings: Settings = request.app.state.settings
        id_token = await sessions.end(staff)
        return see_other(
            query(
                "/auth/end-session",
                {
                    "id_token_hint": id_token,
                    "client_id": WEB_CLIENT_ID,
                    "post_logout_redirect_uri": web_signed_out_uri(settings),
                },
            ),
            cookies=[cookie(settings, "", max_age=0)],
        )

    @get(SIGNED_OUT_PATH)
    async def signed_out(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Where auth sends the browser back once the sign-in has ended there."""
        return render(request, "connexion/au-revoir.html", title="Vous êtes déconnecté·e")

    @post("/structure", status_code=303)
    async def switch(
        self, request: Request[Any, Any, Any], staff: Staff, form: Form
    ) -> Response[Any]:
        """Act for another of my structures."""
        back = safe_path(one(form, "retour"))
        try:
            wanted = uuid.UUID(one(form, "structure_id"))
        except ValueError:
            return see_other(back)
        if wanted != staff.structure_id and any(
            m.structure_id == wanted for m in staff.memberships
        ):
            sessions: Sessions = request.app.state.sessions
            now = await sessions.switch(staff, wanted)
            if now is not None:
                api = ReferralsApi(request.app.state.http["referrals"], now.access_token)
                await _record_address(api, now.email)
        return see_other(back)


async def _record_address(api: ReferralsApi, email: str) -> None:
    """The person's mail address for the referrals API's notifications; sign-in goes on whatever
    it answers (a moderator is no member, the API may be down)."""
    try:
        await api.record_address(email)
    except ApiError as exc:
        log.info("web_mail_address_not_recorded", status=exc.status)


async def _structure_name(directory: DirectoryApi, structure_id: uuid.UUID) -> str:
    try:
        structure, _ = await directory.structure(structure_id)
    except ApiError:
        return "Structure sans fiche dans l’annuaire"
    return structure.name


ROUTES = [SignIn]
