"""Browser pages: authorization (login, structure choice), logout, password reset, invitations.

Forms carry a CSRF token (double-submit cookie). Login failures are answered with one generic
message whatever the cause, after the same argon2 work, and are throttled per e-mail and per
address: an unknown e-mail is throttled exactly like a known one.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
import httpx
import structlog
from authlib.oauth2.rfc6749 import OAuth2Error
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.api.common import client_address, key_snapshot, oauth_response, raw_request
from services.auth.crypto import hash_password, needs_rehash, verify_password
from services.auth.domain.passwords import password_problems
from services.auth.models import Account, LoginSession
from services.auth.oauth.adapter import OAuthResult, RawRequest
from services.auth.oauth.server import RelaisServer, oauth_error, run_authlib
from services.auth.pages import (
    PREFIX,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    csrf_ok,
    message,
    render,
    session_cookie,
)
from services.auth.store import accounts, invitations, logins, tokens
from services.kernel.clock import utcnow
from services.kernel.http import ServiceLocator
from services.kernel.inputs import ANY_QUERY
from services.kernel.mail import build_message, send
from services.kernel.settings import Settings
from services.kernel.throttle import ThrottlePolicy

log = structlog.get_logger("relais.auth.web")
GENERIC_LOGIN_ERROR = "Adresse e-mail ou mot de passe incorrect."
OAUTH_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


def policy(settings: Settings) -> ThrottlePolicy:
    return ThrottlePolicy(
        slowdown_after=settings.auth_login_slowdown_after,
        lockout_after=settings.auth_login_lockout_after,
        lockout_seconds=settings.auth_login_lockout_seconds,
        ip_lockout_after=settings.auth_login_ip_lockout_after,
    )


def safe_next(value: str | None) -> str:
    """Only our own authorization endpoint is an acceptable place to go back to."""
    if value and value.startswith(f"{PREFIX}/authorize?") and "\\" not in value:
        return value
    return f"{PREFIX}/authorize"


def see_other(location: str, cookies: list[Cookie] | None = None) -> Response[Any]:
    return Redirect(location, status_code=303, cookies=cookies or [], headers=SECURITY_HEADERS)


async def structure_label(locator: ServiceLocator, structure_id: uuid.UUID) -> str:
    """The structure's name from the directory (best effort: the id when unavailable)."""
    try:
        async with locator.client("directory", timeout=2.0) as client:
            response = await client.get(f"/directory/v1/structures/{structure_id}")
        if response.status_code == 200:
            name = response.json().get("name")
            if isinstance(name, str) and name:
                return name
    except (httpx.HTTPError, ValueError, AttributeError):
        pass
    return f"Structure {structure_id}"


def _oauth_form(form: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: v for k, v in form.items() if k in OAUTH_PARAMS}


class AuthorizationPages(Controller):
    path = PREFIX
    include_in_schema = False

    async def _consent(
        self, request: Request[Any, Any, Any], session: AsyncSession, raw: RawRequest
    ) -> tuple[Any, OAuthResult | None, str | None]:
        """(grant, error response to send as is, error to show on a page)."""
        settings: Settings = request.app.state.settings
        keys = await key_snapshot(request, session)

        def work(server: RelaisServer) -> tuple[Any, OAuthResult | None, str | None]:
            try:
                return server.get_consent_grant(raw), None, None
            except OAuth2Error as error:
                if error.redirect_uri:
                    return None, oauth_error(error), None
                return None, None, str(error.description or error.error)

        return await run_authlib(session, settings, keys, work)

    # OAuth 2 endpoints ignore the parameters they do not know (RFC 6749 §3.1).
    @get("/authorize", opt={ANY_QUERY: True})
    async def authorize(
        self, request: Request[Any, Any, Any], session: AsyncSession
    ) -> Response[Any]:
        raw = await raw_request(request)
        grant, redirect, problem = await self._consent(request, session, raw)
        if redirect is not None:
            return oauth_response(redirect)
        if problem is not None:
            return message(request, "Demande d’autorisation invalide", problem)
        query = urlencode([(k, v) for k, vs in raw.query.items() for v in vs if k in OAUTH_PARAMS])
        next_url = f"{PREFIX}/authorize?{query}"
        found = await logins.session_account(session, request.cookies.get(SESSION_COOKIE))
        settings: Settings = request.app.state.settings
        if found is None:
            return render(
                request,
                "login.html",
                title="Connexion à Relais",
                next=next_url,
                email="",
                upstream=settings.auth_upstream_name if settings.auth_upstream_issuer else None,
            )
        account, login = found
        memberships = await accounts.memberships_of(session, account.id)
        locator: ServiceLocator = request.app.state.locator
        structures = [
            {"id": str(m.structure_id), "label": await structure_label(locator, m.structure_id)}
            for m in memberships
        ]
        if account.is_moderator:
            structures.append({"id": "", "label": "Le réseau (modération, sans structure)"})
        if not structures:
            return message(
                request,
                "Aucune structure",
                "Votre compte n’est rattaché à aucune structure. Demandez une invitation à "
                "l’administrateur de votre structure.",
                status=403,
            )
        first_party = grant.client.info.first_party
        if first_party and len(structures) == 1:
            # Relais's own staff app: nothing to authorise, and only one structure to act for.
            return await self._answer(request, session, raw, account, login, structures[0]["id"])
        params = [(k, v) for k, vs in raw.query.items() for v in vs if k in OAUTH_PARAMS]
        return render(
            request,
            "authorize.html",
            title="Pour quelle structure agissez-vous ?" if first_party else "Autoriser l’accès",
            email=account.email,
            client_name=grant.client.info.name,
            first_party=first_party,
            scopes=grant.request.scope,
            params=params,
            structures=structures,
        )

    @post("/authorize", status_code=200, opt={ANY_QUERY: True})
    async def decide(self, request: Request[Any, Any, Any], session: AsyncSession) -> Response[Any]:
        form_request = await raw_request(request)
        form = form_request.form
        if not csrf_ok(request, field(form, "csrf_token")):
            return message(request, "Session expirée", "Rechargez la page et recommencez.")
        raw = RawRequest(
            method="POST", path=form_request.path, headers={}, query={}, form=_oauth_form(form)
        )
        found = await logins.session_account(session, request.cookies.get(SESSION_COOKIE))
        if found is None:
            return see_other(f"{PREFIX}/authorize?{urlencode(_flat(raw.form))}")
        account, login = found
        allowed = field(form, "decision") == "allow"
        return await self._answer(
            request, session, raw, account, login, field(form, "structure_id"), allowed
        )

    async def _answer(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        raw: RawRequest,
        account: Account,
        login: LoginSession,
        chosen: str,
        allowed: bool = True,
    ) -> Response[Any]:
        """The authorization response (code, or ``access_denied``) for the person acting for
        the chosen structure (empty: the network, for a moderator)."""
        try:
            structure_id = uuid.UUID(chosen) if chosen else None
        except ValueError:
            structure_id, chosen = None, "invalid"
        user = await accounts.principal(session, account.id, structure_id, login.created_at)
        if user is None or chosen == "invalid":
            return message(
                request, "Accès refusé", "Vous n’êtes pas membre de cette structure.", status=403
            )
        settings: Settings = request.app.state.settings
        keys = await key_snapshot(request, session)

        def work(server: RelaisServer) -> tuple[OAuthResult | None, str | None]:
            try:
                grant = server.get_consent_grant(raw)
            except OAuth2Error as error:
                if error.redirect_uri:
                    return oauth_error(error), None
                return None, str(error.description or error.error)
            result: OAuthResult = server.create_authorization_response(
                grant.request, grant_user=user if allowed else None, grant=grant
            )
            return result, None

        result, problem = await run_authlib(session, settings, keys, work)
        if result is None:
            return message(request, "Demande d’autorisation invalide", problem or "")
        return oauth_response(result)

    @post("/login", status_code=200)
    async def login(self, request: Request[Any, Any, Any], session: AsyncSession) -> Response[Any]:
        settings: Settings = request.app.state.settings
        form = (await raw_request(request)).form
        email = field(form, "email")[:320]
        password = field(form, "password")[:1024]
        next_url = safe_next(field(form, "next"))
        upstream = settings.auth_upstream_name if settings.auth_upstream_issuer else None
        if not csrf_ok(request, field(form, "csrf_token")):
            return render(
                request,
                "login.html",
                status=400,
                title="Connexion à Relais",
                error="Session expirée : rechargez la page et recommencez.",
                next=next_url,
                email=email,
                upstream=upstream,
            )
        address = client_address(request)
        blocked = await logins.login_blocked_until(session, email, address)
        if blocked is not None:
            seconds = max(1, int((blocked - utcnow()).total_seconds()) + 1)
            response = render(
                request,
                "login.html",
                status=429,
                title="Connexion à Relais",
                error="Trop de tentatives. Réessayez dans quelques instants.",
                next=next_url,
                email=email,
                upstream=upstream,
            )
            response.headers["Retry-After"] = str(seconds)
            return response
        account = await accounts.account_by_email(session, email) if email else None
        password_hash = account.password_hash if account else None
        ok = await anyio.to_thread.run_sync(verify_password, password_hash, password)
        if not ok or account is None or account.status != accounts.ACTIVE:
            await logins.record_login_failure(session, email, address, policy(settings))
            log.info("login_failed")
            return render(
                request,
                "login.html",
                status=401,
                title="Connexion à Relais",
                error=GENERIC_LOGIN_ERROR,
                next=next_url,
                email=email,
                upstream=upstream,
            )
        await logins.clear_login_failures(session, email)
        if password_hash and needs_rehash(password_hash):
            account.password_hash = await anyio.to_thread.run_sync(hash_password, password)
        sid = await logins.open_session(session, account, "password")
        log.info("login_succeeded")
        return see_other(next_url, [session_cookie(settings, sid)])

    @post("/logout", status_code=200)
    async def logout(self, request: Request[Any, Any, Any], session: AsyncSession) -> Response[Any]:
        form = (await raw_request(request)).form
        if not csrf_ok(request, field(form, "csrf_token")):
            return message(request, "Session expirée", "Rechargez la page et recommencez.")
        await logins.close_session(session, request.cookies.get(SESSION_COOKIE))
        settings: Settings = request.app.state.settings
        return render(
            request,
            "message.html",
            title="Déconnexion",
            info="Vous êtes déconnecté·e.",
            cookies=[session_cookie(settings, "", max_age=0)],
        )

    # --- password reset ------------------------------------------------------------------

    @get("/password/forgot")
    async def forgot_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return render(request, "forgot.html", title="Mot de passe oublié")

    @post("/password/forgot", status_code=200)
    async def forgot(self, request: Request[Any, Any, Any], session: AsyncSession) -> Response[Any]:
        form = (await raw_request(request)).form
        if not csrf_ok(request, field(form, "csrf_token")):
            return message(request, "Session expirée", "Rechargez la page et recommencez.")
        email = field(form, "email")[:320]
        await request_password_reset(request, session, email)
        return message(
            request,
            "Mot de passe oublié",
            "Si un compte actif correspond à cette adresse, un lien de réinitialisation vient "
            "d’y être envoyé. Il est valable une heure.",
            status=200,
            error=False,
        )

    @get("/password/reset")
    async def reset_form(
        self, request: Request[Any, Any, Any], session: AsyncSession, token: str = ""
    ) -> Response[Any]:
        if await invitations.open_reset(session, token[:200]) is None:
            return _expired_link(request)
        return render(
            request,
            "password.html",
            title="Nouveau mot de passe",
            action=f"{PREFIX}/password/reset",
            token=token,
            ask_name=False,
            ask_password=True,
        )

    @post("/password/reset", status_code=200)
    async def reset(self, request: Request[Any, Any, Any], session: AsyncSession) -> Response[Any]:
        form = (await raw_request(request)).form
        token = field(form, "token")[:200]
        password = field(form, "password")[:1024]
        if not csrf_ok(request, field(form, "csrf_token")):
            return message(request, "Session expirée", "Rechargez la page et recommencez.")
        reset = await invitations.open_reset(session, token)
        account = await session.get(Account, reset.account_id) if reset else None
        if reset is None or account is None or account.status == accounts.DISABLED:
            return _expired_link(request)
        problems = password_problems(password, email=account.email, name=account.name)
        if problems:
            return render(
                request,
                "password.html",
                status=422,
                title="Nouveau mot de passe",
                error="Mot de passe refusé : " + " ; ".join(problems) + ".",
                action=f"{PREFIX}/password/reset",
                token=token,
                ask_name=False,
                ask_password=True,
            )
        if not await invitations.use_reset(session, reset):
            return _expired_link(request)
        account.password_hash = await anyio.to_thread.run_sync(hash_password, password)
        account.email_verified = True
        account.updated_at = utcnow()
        await tokens.revoke_account_grants(session, account.id)
        await logins.clear_login_failures(session, account.email)
        return message(
            request,
            "Mot de passe modifié",
            "Votre mot de passe a été modifié. Vous pouvez vous connecter depuis votre "
            "application.",
            status=200,
            error=False,
        )

    # --- invitations ---------------------------------------------------------------------

    @get("/invitation")
    async def invitation_form(
        self, request: Request[Any, Any, Any], session: AsyncSession, token: str = ""
    ) -> Response[Any]:
        invitation = await invitations.open_invitation(session, token[:200])
        if invitation is None:
            return _expired_link(request)
        account = await accounts.account_by_email(session, invitation.email)
        if account is not None and account.status == accounts.DISABLED:
            return _expired_link(request)
        needs_password = account is None or account.password_hash is None
        return render(
            request,
            "password.html",
            title="Rejoindre Relais",
            info=f"Invitation pour {invitation.email}.",
            action=f"{PREFIX}/invitation",
            token=token,
            ask_name=needs_password,
            ask_password=needs_password,
            name=account.name if account else "",
        )

    @post("/invitation", status_code=200)
    async def invitation(
        self, request: Request[Any, Any, Any], session: AsyncSession
    ) -> Response[Any]:
        form = (await raw_request(request)).form
        if not csrf_ok(request, field(form, "csrf_token")):
            return message(request, "Session expirée", "Rechargez la page et recommencez.")
        return await self._accept(
            request,
            session,
            field(form, "token")[:200],
            field(form, "name")[:200].strip(),
            field(form, "password")[:1024],
        )

    async def _accept(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        token: str,
        name: str,
        password: str,
    ) -> Response[Any]:
        invitation = await invitations.open_invitation(session, token)
        if invitation is None:
            return _expired_link(request)
        account = await accounts.account_by_email(session, invitation.email)
        if account is not None and account.status == accounts.DISABLED:
            return _expired_link(request)
        if account is None or account.password_hash is None:
            problems = password_problems(password, email=invitation.email, name=name)
            if not name:
                problems.insert(0, "indiquez votre nom")
            if problems:
                return render(
                    request,
                    "password.html",
                    status=422,
                    title="Rejoindre Relais",
                    error="Mot de passe refusé : " + " ; ".join(problems) + ".",
                    action=f"{PREFIX}/invitation",
                    token=token,
                    ask_name=True,
                    ask_password=True,
                    name=name,
                )
            if account is None:
                account = Account(email=invitation.email, name=name)
                session.add(account)
                await session.flush()
            account.name = name
            account.password_hash = await anyio.to_thread.run_sync(hash_password, password)
        account.status = accounts.ACTIVE
        account.email_verified = True  # the link was delivered to that address
        account.updated_at = utcnow()
        if not await invitations.accept_invitation(session, invitation, account):
            return _expired_link(request)
        return render(
            request,
            "message.html",
            title="Bienvenue",
            info="Votre accès est prêt.",
            link="/connexion",
            link_text="Se connecter à Relais",
        )


def field(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


def _flat(form: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, vs in form.items() for v in vs]


def _expired_link(request: Request[Any, Any, Any]) -> Response[Any]:
    return message(
        request,
        "Lien invalide ou expiré",
        "Ce lien n’est plus valable (déjà utilisé ou expiré). Demandez-en un nouveau.",
    )


async def request_password_reset(
    request: Request[Any, Any, Any], session: AsyncSession, email: str
) -> None:
    settings: Settings = request.app.state.settings
    account = await accounts.account_by_email(session, email) if email else None
    if account is None or account.status != accounts.ACTIVE:
        return
    token = await invitations.create_reset(session, account)
    link = f"{settings.base_url.rstrip('/')}{PREFIX}/password/reset?{urlencode({'token': token})}"
    await send(
        settings,
        build_message(
            settings,
            account.email,
            "Relais : réinitialisation de votre mot de passe",
            "Bonjour,\n\nPour choisir un nouveau mot de passe Relais, ouvrez ce lien "
            f"(valable une heure, utilisable une seule fois) :\n\n{link}\n\n"
            "Si vous n’êtes pas à l’origine de cette demande, ignorez ce message.\n",
        ),
    )
