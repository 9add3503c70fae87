"""JSON API of the auth service: the caller, members, invitations, API clients, accounts.

Callers present an access token issued here; on top of the signature the auth service checks
live state it owns (token not revoked, account active, membership and role still current).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.api.web import request_password_reset
from services.auth.domain.clients import plan_client
from services.auth.invitations import invite_by_email, mail_invitation
from services.auth.models import Account, Client, Membership
from services.auth.schemas import (
    AccountStatusUpdate,
    ClientCreate,
    ClientCreated,
    ClientRead,
    ColleagueRead,
    InvitationCreate,
    InvitationRead,
    MemberRead,
    MembershipRead,
    MemberUpdate,
    MeRead,
    PasswordResetRequest,
    PendingInvitation,
)
from services.auth.store import accounts, clients, invitations, tokens
from services.auth.store.accounts import Principal
from services.kernel.clock import utcnow
from services.kernel.identity import Caller, Scope
from services.kernel.problems import ProblemError, not_found

API_SCOPES = tuple(s.value for s in Scope)


@dataclass(frozen=True)
class Acting:
    account: Account
    principal: Principal

    def admin_of(self, structure_id: uuid.UUID) -> bool:
        roles = self.principal.roles
        return "moderator" in roles or (
            self.principal.structure_id == structure_id and "admin" in roles
        )


async def provide_acting(authenticated: Caller, session: AsyncSession) -> Acting:
    """The person behind the token, checked against live state."""
    if authenticated.kind != "user" or authenticated.token_id is None:
        raise ProblemError(403, "Réservé aux personnes connectées (jeton utilisateur).")
    record = await tokens.access_token(session, authenticated.token_id)
    if record is None or not await tokens.token_is_live(session, record):
        raise ProblemError(
            401,
            "Jeton révoqué ou compte désactivé.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    assert record.account_id is not None
    principal = await accounts.principal(session, record.account_id, record.structure_id)
    account = await session.get(Account, record.account_id)
    if principal is None or account is None:
        raise ProblemError(403, "Vous n’êtes plus membre de cette structure.")
    return Acting(account=account, principal=principal)


def _require_admin(acting: Acting, structure_id: uuid.UUID) -> None:
    if not acting.admin_of(structure_id):
        raise ProblemError(403, "Réservé aux administrateurs de cette structure.")


class AccountController(Controller):
    path = "/auth/v1"
    tags = ("Comptes et structures",)
    dependencies = {"acting": Provide(provide_acting)}  # noqa: RUF012
    security = [{"bearer": []}]  # noqa: RUF012

    @get("/me", operation_id="GetMe")
    async def me(self, acting: Acting, session: AsyncSession) -> MeRead:
        """The connected person, their structures and the structure they act for."""
        memberships = await accounts.memberships_of(session, acting.account.id)
        return MeRead(
            id=acting.account.id,
            email=acting.account.email,
            name=acting.account.name,
            status=acting.account.status,
            is_moderator=acting.account.is_moderator,
            memberships=[
                MembershipRead(structure_id=m.structure_id, role=m.role)  # type: ignore[arg-type]
                for m in memberships
            ],
            acting_for=acting.principal.structure_id,
        )

    @get("/structures/{structure_id:uuid}/members", operation_id="ListMembers")
    async def members(
        self, structure_id: uuid.UUID, acting: Acting, session: AsyncSession
    ) -> list[MemberRead]:
        """Members of a structure (its administrators and moderators)."""
        _require_admin(acting, structure_id)
        rows = await session.execute(
            sa.select(Membership, Account)
            .join(Account, Account.id == Membership.account_id)
            .where(Membership.structure_id == structure_id)
            .order_by(Account.email)
        )
        return [
            MemberRead(
                account_id=a.id,
                email=a.email,
                name=a.name,
                status=a.status,
                role=m.role,  # type: ignore[arg-type]
                last_login_at=a.last_login_at,
            )
            for m, a in rows.tuples()
        ]

    @get("/structures/{structure_id:uuid}/colleagues", operation_id="ListColleagues")
    async def colleagues(
        self, structure_id: uuid.UUID, acting: Acting, session: AsyncSession
    ) -> list[ColleagueRead]:
        """Active members of the structure I act for, by name (no e-mail, no role): whom a
        follow-up can be handed to. Members and administrators of that structure only."""
        if acting.principal.structure_id != structure_id:
            raise ProblemError(403, "Réservé aux membres de cette structure.")
        rows = await session.execute(
            sa.select(Account.id, Account.name)
            .join(Membership, Membership.account_id == Account.id)
            .where(Membership.structure_id == structure_id, Account.status == accounts.ACTIVE)
            .order_by(Account.name, Account.id)
        )
        return [ColleagueRead(account_id=a, name=n) for a, n in rows.tuples()]

    @delete(
        "/structures/{structure_id:uuid}/members/{account_id:uuid}",
        operation_id="RemoveMember",
        status_code=204,
    )
    async def remove_member(
        self, structure_id: uuid.UUID, account_id: uuid.UUID, acting: Acting, session: AsyncSession
    ) -> None:
        """Remove someone from the structure; their tokens for it stop being renewed, and the
        access tokens they hold for it are revoked (refused by every service within
        TOKEN_REVOCATION_REFRESH_SECONDS)."""
        _require_admin(acting, structure_id)
        result = await session.execute(
            sa.delete(Membership).where(
                Membership.structure_id == structure_id, Membership.account_id == account_id
            )
        )
        if getattr(result, "rowcount", 0) != 1:
            raise not_found("Membre")
        await tokens.revoke_structure_tokens(session, account_id, structure_id)

    @patch("/structures/{structure_id:uuid}/members/{account_id:uuid}", operation_id="UpdateMember")
    async def update_member(
        self,
        structure_id: uuid.UUID,
        account_id: uuid.UUID,
        data: MemberUpdate,
        acting: Acting,
        session: AsyncSession,
    ) -> MemberRead:
        """Change someone's role in the structure (``member`` or ``admin``). The structure
        keeps at least one administrator (409). Their current tokens keep the old role until
        renewed (at most AUTH_ACCESS_TOKEN_TTL_SECONDS)."""
        _require_admin(acting, structure_id)
        found = (
            await session.execute(
                sa.select(Membership, Account)
                .join(Account, Account.id == Membership.account_id)
                .where(Membership.structure_id == structure_id, Membership.account_id == account_id)
                .with_for_update()
            )
        ).first()
        if found is None:
            raise not_found("Membre")
        membership, account = found.tuple()
        if membership.role == "admin" and data.role != "admin":
            admins = await session.scalar(
                sa.select(sa.func.count())
                .select_from(Membership)
                .where(Membership.structure_id == structure_id, Membership.role == "admin")
            )
            if (admins or 0) <= 1:
                raise ProblemError(409, "La structure doit garder au moins un administrateur.")
        membership.role = data.role
        return MemberRead(
            account_id=account.id,
            email=account.email,
            name=account.name,
            status=account.status,
            role=data.role,
            last_login_at=account.last_login_at,
        )

    @get("/structures/{structure_id:uuid}/invitations", operation_id="ListInvitations")
    async def invitations(
        self, structure_id: uuid.UUID, acting: Acting, session: AsyncSession
    ) -> list[PendingInvitation]:
        """Invitations of the structure not yet accepted and still valid."""
        _require_admin(acting, structure_id)
        rows = await invitations.structure_invitations(session, structure_id)
        return [
            PendingInvitation(
                id=i.id,
                email=i.email,
                role=i.role,  # type: ignore[arg-type]
                created_at=i.created_at,
                expires_at=i.expires_at,
            )
            for i in rows
        ]

    @post(
        "/structures/{structure_id:uuid}/invitations/{invitation_id:uuid}/resend",
        operation_id="ResendInvitation",
        status_code=200,
    )
    async def resend_invitation(
        self,
        structure_id: uuid.UUID,
        invitation_id: uuid.UUID,
        acting: Acting,
        session: AsyncSession,
        request: Request[Any, Any, Any],
    ) -> InvitationRead:
        """Send the invitation again with a new link valid 7 days (the previous link stops
        working)."""
        _require_admin(acting, structure_id)
        invitation = await invitations.pending_invitation(session, structure_id, invitation_id)
        if invitation is None:
            raise not_found("Invitation")
        token = await invitations.renew_invitation(session, invitation)
        await mail_invitation(request.app.state.settings, invitation, token)
        return InvitationRead(
            id=invitation.id,
            email=invitation.email,
            structure_id=invitation.structure_id,
            role=invitation.role,  # type: ignore[arg-type]
            expires_at=invitation.expires_at,
        )

    @delete(
        "/structures/{structure_id:uuid}/invitations/{invitation_id:uuid}",
        operation_id="RevokeInvitation",
        status_code=204,
    )
    async def revoke_invitation(
        self,
        structure_id: uuid.UUID,
        invitation_id: uuid.UUID,
        acting: Acting,
        session: AsyncSession,
    ) -> None:
        """Cancel a pending invitation: its link no longer works."""
        _require_admin(acting, structure_id)
        invitation = await invitations.pending_invitation(session, structure_id, invitation_id)
        if invitation is None:
            raise not_found("Invitation")
        invitation.expires_at = utcnow()

    @post(
        "/structures/{structure_id:uuid}/invitations",
        operation_id="CreateInvitation",
        status_code=201,
    )
    async def invite(
        self,
        structure_id: uuid.UUID,
        data: InvitationCreate,
        acting: Acting,
        session: AsyncSession,
        request: Request[Any, Any, Any],
    ) -> InvitationRead:
        """Invite someone by e-mail (single-use link valid 7 days)."""
        _require_admin(acting, structure_id)
        invitation = await invite_by_email(
            request.app.state.settings,
            session,
            email=data.email,
            structure_id=structure_id,
            role=data.role,
            invited_by=acting.account.id,
        )
        return InvitationRead(
            id=invitation.id,
            email=invitation.email,
            structure_id=invitation.structure_id,
            role=invitation.role,  # type: ignore[arg-type]
            expires_at=invitation.expires_at,
        )

    @post("/structures/{structure_id:uuid}/clients", operation_id="CreateClient", status_code=201)
    async def create_client(
        self, structure_id: uuid.UUID, data: ClientCreate, acting: Acting, session: AsyncSession
    ) -> ClientCreated:
        """Register a client of the structure: a tool (``client_credentials``, API scopes) or
        an application people sign in to (``authorization_code`` + PKCE, redirect URIs; public
        or confidential). The secret is in this answer only."""
        _require_admin(acting, structure_id)
        plan = plan_client(
            data.grant_type, data.scopes, data.redirect_uris, data.public, API_SCOPES
        )
        if isinstance(plan, list):
            raise ProblemError(422, "; ".join(f"{e.field}: {e.reason}" for e in plan), errors=plan)
        client, secret = await clients.create_client(
            session,
            name=data.name,
            structure_id=structure_id,
            scopes=plan.scopes,
            grant_types=plan.grant_types,
            redirect_uris=plan.redirect_uris,
            public=plan.public,
            created_by=acting.account.id,
        )
        return ClientCreated(
            client_id=client.client_id,
            client_secret=secret,
            name=client.name,
            structure_id=structure_id,
            scopes=plan.scopes,
            grant_types=list(client.grant_types),
            redirect_uris=list(client.redirect_uris),
        )

    @get("/structures/{structure_id:uuid}/clients", operation_id="ListClients")
    async def clients(
        self, structure_id: uuid.UUID, acting: Acting, session: AsyncSession
    ) -> list[ClientRead]:
        """The structure's API clients and applications (never their secrets)."""
        _require_admin(acting, structure_id)
        rows = await session.scalars(
            sa.select(Client).where(Client.structure_id == structure_id).order_by(Client.created_at)
        )
        return [
            ClientRead(
                client_id=c.client_id,
                name=c.name,
                structure_id=c.structure_id,
                scopes=c.scopes.split(),
                grant_types=list(c.grant_types),
                created_at=c.created_at,
                revoked_at=c.revoked_at,
                redirect_uris=list(c.redirect_uris),
                public=c.auth_method == "none",
            )
            for c in rows
        ]

    @delete(
        "/structures/{structure_id:uuid}/clients/{client_id:str}",
        operation_id="RevokeClient",
        status_code=204,
    )
    async def revoke_client(
        self, structure_id: uuid.UUID, client_id: str, acting: Acting, session: AsyncSession
    ) -> None:
        """Revoke a client: it can no longer obtain tokens; its tokens are reported inactive."""
        _require_admin(acting, structure_id)
        client = (
            await session.scalars(
                sa.select(Client).where(
                    Client.client_id == client_id[:64],
                    Client.structure_id == structure_id,
                    Client.revoked_at.is_(None),
                )
            )
        ).first()
        if client is None:
            raise not_found("Client")
        await clients.revoke_client(session, client)

    @patch("/accounts/{account_id:uuid}", operation_id="UpdateAccountStatus")
    async def set_status(
        self,
        account_id: uuid.UUID,
        data: AccountStatusUpdate,
        acting: Acting,
        session: AsyncSession,
    ) -> MeRead:
        """Disable or re-enable an account (moderators). Disabling ends its sessions and
        revokes its tokens."""
        if "moderator" not in acting.principal.roles:
            raise ProblemError(403, "Réservé aux modérateurs du réseau.")
        account = await session.get(Account, account_id)
        if account is None:
            raise not_found("Compte")
        if data.status == accounts.DISABLED:
            account.status = accounts.DISABLED
            await tokens.revoke_account_grants(session, account.id)
        elif account.status == accounts.DISABLED:
            account.status = accounts.ACTIVE if account.password_hash else accounts.INVITED
        account.updated_at = utcnow()
        memberships = await accounts.memberships_of(session, account.id)
        return MeRead(
            id=account.id,
            email=account.email,
            name=account.name,
            status=account.status,
            is_moderator=account.is_moderator,
            memberships=[
                MembershipRead(structure_id=m.structure_id, role=m.role)  # type: ignore[arg-type]
                for m in memberships
            ],
            acting_for=None,
        )


class PasswordResetController(Controller):
    path = "/auth/v1"
    tags = ("Comptes et structures",)

    @post("/password-resets", operation_id="RequestPasswordReset", status_code=202, security=[])
    async def request_reset(
        self, data: PasswordResetRequest, session: AsyncSession, request: Request[Any, Any, Any]
    ) -> dict[str, str]:
        """Send a reset link if an active account has this address (same answer otherwise)."""
        await request_password_reset(request, session, data.email)
        return {"detail": "Si un compte actif correspond à cette adresse, un lien a été envoyé."}
