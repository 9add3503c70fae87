"""Upstream OpenID Connect login (ProConnect): start and callback pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import sqlalchemy as sa
import structlog
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from litestar import Controller, Request, Response, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import store
from services.auth.api.web import safe_next, see_other
from services.auth.crypto import digest, random_token
from services.auth.federation import Upstream, UpstreamError, display_name, verified_email
from services.auth.models import Account, FederationState, UpstreamIdentity
from services.auth.pages import PREFIX, message, session_cookie
from services.kernel.clock import utcnow
from services.kernel.inputs import ANY_QUERY
from services.kernel.settings import Settings

log = structlog.get_logger("relais.auth.federation")
STATE_TTL = timedelta(minutes=10)


class FederationPages(Controller):
    path = f"{PREFIX}/federation"
    include_in_schema = False

    @get("/start")
    async def start(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        next_url: Annotated[str, Parameter(query="next")] = "",
    ) -> Response[Any]:
        upstream: Upstream = request.app.state.upstream
        if not upstream.enabled:
            return message(
                request, "Indisponible", "Aucun fournisseur d’identité configuré.", status=404
            )
        state, nonce, verifier = random_token(32), random_token(32), random_token(48)
        now = utcnow()
        session.add(
            FederationState(
                state_hash=digest(state),
                nonce=nonce,
                code_verifier=verifier,
                next_url=safe_next(next_url[:4000]),
                created_at=now,
                expires_at=now + STATE_TTL,
            )
        )
        try:
            url = await upstream.authorize_url(
                state=state, nonce=nonce, code_challenge=create_s256_code_challenge(verifier)
            )
        except UpstreamError as exc:
            log.warning("upstream_unavailable", reason=str(exc))
            return _upstream_failed(request)
        return see_other(url)

    # The provider may add parameters of its own (iss, session_state…): ignored, as OAuth 2
    # clients must.
    @get("/callback", opt={ANY_QUERY: True})
    async def callback(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        state_param: Annotated[str, Parameter(query="state")] = "",
        code: str = "",
        error: str = "",
    ) -> Response[Any]:
        upstream: Upstream = request.app.state.upstream
        settings: Settings = request.app.state.settings
        state = state_param[:200]
        pending = await session.get(FederationState, digest(state)) if state else None
        if pending is None or pending.expires_at <= utcnow():
            return message(request, "Lien invalide ou expiré", "Recommencez la connexion.")
        await session.execute(
            sa.delete(FederationState).where(FederationState.state_hash == pending.state_hash)
        )
        if error or not code:
            return message(request, "Connexion annulée", "La connexion n’a pas abouti.", status=401)
        try:
            claims = await upstream.login(
                code=code[:2000], code_verifier=pending.code_verifier, nonce=pending.nonce
            )
        except UpstreamError as exc:
            log.warning("upstream_login_failed", reason=str(exc))
            return _upstream_failed(request)
        account = await link_account(session, upstream.issuer, claims)
        if account is None:
            return message(
                request,
                "Aucun compte Relais",
                "Aucun compte Relais actif ni aucune invitation ne correspond à cette identité. "
                "Demandez une invitation à l’administrateur de votre structure.",
                status=403,
            )
        sid = await store.open_session(session, account, "upstream")
        return see_other(pending.next_url, [session_cookie(settings, sid)])


def _upstream_failed(request: Request[Any, Any, Any]) -> Response[Any]:
    return message(
        request,
        "Fournisseur d’identité indisponible",
        "Le fournisseur d’identité n’a pas répondu correctement. Réessayez plus tard ou "
        "connectez-vous avec votre mot de passe.",
        status=502,
    )


async def link_account(
    session: AsyncSession, issuer: str, claims: dict[str, Any]
) -> Account | None:
    """The account of this upstream identity: already linked, or found by verified e-mail
    (an existing account or pending invitations), then linked. None when nothing matches."""
    subject = str(claims.get("sub", ""))[:255]
    linked = (
        await session.scalars(
            sa.select(UpstreamIdentity).where(
                UpstreamIdentity.issuer == issuer, UpstreamIdentity.subject == subject
            )
        )
    ).first()
    if linked is not None:
        account = await session.get(Account, linked.account_id)
        return account if account is not None and account.status == store.ACTIVE else None
    email = verified_email(claims)
    if email is None:
        return None
    account = await store.account_by_email(session, email)
    invitations = await store.pending_invitations(session, email)
    if account is not None and account.status == store.DISABLED:
        return None
    if account is None:
        if not invitations:
            return None
        account = Account(email=email, name=display_name(claims))
        session.add(account)
        await session.flush()
    elif account.status != store.ACTIVE and not invitations:
        return None
    account.status = store.ACTIVE
    account.email_verified = True
    if not account.name:
        account.name = display_name(claims)
    for invitation in invitations:
        await store.accept_invitation(session, invitation, account)
    session.add(UpstreamIdentity(issuer=issuer, subject=subject, account_id=account.id))
    await session.flush()
    return account
