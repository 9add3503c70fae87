"""Équipe (administrators): members and their roles, invitations (send, resend, cancel)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post

from services.web.clients.auth import AuthApi
from services.web.clients.base import ApiError
from services.web.deps import Form, one
from services.web.features.connexion.routes import see_other
from services.web.rendering import render
from services.web.sessions import Staff

MESSAGES = {
    "invite": "Invitation envoyée : la personne reçoit un lien valable 7 jours.",
    "renvoye": "Invitation renvoyée avec un nouveau lien (l’ancien ne fonctionne plus).",
    "annule": "Invitation annulée.",
    "role": "Rôle modifié. Il s’applique dès que la session de la personne se renouvelle "
    "(au plus tard dans 15 minutes).",
    "retire": "La personne ne fait plus partie de la structure.",
}


class Equipe(Controller):
    path = "/equipe"
    include_in_schema = False

    async def _page(
        self,
        request: Request[Any, Any, Any],
        admin: Staff,
        auth: AuthApi,
        *,
        status: int = 200,
        message: str | None = None,
        errors: dict[str, str] | None = None,
        typed: dict[str, str] | None = None,
    ) -> Response[Any]:
        assert admin.structure_id is not None
        members, invitations = await asyncio.gather(
            auth.members(admin.structure_id), auth.invitations(admin.structure_id)
        )
        return render(
            request,
            "equipe/equipe.html",
            status=status,
            title="Équipe",
            members=members,
            invitations=invitations,
            message=message,
            errors=errors or {},
            typed=typed or {"email": "", "role": "member"},
        )

    @get()
    async def team(
        self, request: Request[Any, Any, Any], admin: Staff, auth: AuthApi, message: str = ""
    ) -> Response[Any]:
        return await self._page(request, admin, auth, message=MESSAGES.get(message))

    @post("/invitations", status_code=303)
    async def invite(
        self, request: Request[Any, Any, Any], admin: Staff, auth: AuthApi, form: Form
    ) -> Response[Any]:
        assert admin.structure_id is not None
        email, role = one(form, "email"), one(form, "role", "member")
        try:
            await auth.invite(
                admin.structure_id, email, role if role in ("member", "admin") else "member"
            )
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            errors = (
                {"email": "adresse e-mail invalide"}
                if exc.field_errors()
                else {"email": exc.problem.detail or "invitation refusée"}
            )
            return await self._page(
                request,
                admin,
                auth,
                status=422,
                errors=errors,
                typed={"email": email, "role": role},
            )
        return see_other("/equipe?message=invite")

    @post("/invitations/{invitation_id:uuid}/{action:str}", status_code=303)
    async def invitation(
        self, admin: Staff, auth: AuthApi, form: Form, invitation_id: uuid.UUID, action: str
    ) -> Response[Any]:
        assert admin.structure_id is not None
        if action == "renvoyer":
            await auth.resend_invitation(admin.structure_id, invitation_id)
            return see_other("/equipe?message=renvoye")
        if action == "annuler":
            await auth.revoke_invitation(admin.structure_id, invitation_id)
            return see_other("/equipe?message=annule")
        raise ApiError.not_found()

    @post("/membres/{account_id:uuid}/{action:str}", status_code=303)
    async def member(
        self,
        request: Request[Any, Any, Any],
        admin: Staff,
        auth: AuthApi,
        form: Form,
        account_id: uuid.UUID,
        action: str,
    ) -> Response[Any]:
        assert admin.structure_id is not None
        try:
            if action == "role":
                role = one(form, "role")
                await auth.set_role(admin.structure_id, account_id, role)
                return see_other("/equipe?message=role")
            if action == "retirer":
                await auth.remove_member(admin.structure_id, account_id)
                return see_other("/equipe?message=retire")
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            return await self._page(
                request,
                admin,
                auth,
                status=exc.status,
                errors={"membres": exc.problem.detail or ""},
            )
        raise ApiError.not_found()


ROUTES = [Equipe]
