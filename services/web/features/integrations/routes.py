"""Intégrations (administrators): API clients (scopes, secret shown once, revoke) and webhooks
(create, test delivery, rotate secret, resend recent events, last deliveries, delete).

A new secret is shown in the answer to the form itself, once, and never put in a URL: that
answer is the one exception to post-redirect-get here.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post

from services.kernel.clock import utcnow
from services.web.clients.auth import AuthApi
from services.web.clients.base import ApiError
from services.web.clients.referrals import ReferralsApi
from services.web.deps import Form, one
from services.web.features.connexion.routes import see_other
from services.web.rendering import render
from services.web.sessions import Staff

API_SCOPES = (
    "directory:read",
    "directory:write",
    "referrals:read",
    "referrals:write",
    "stats:read",
    "webhooks:manage",
)
MESSAGES = {
    "client-revoque": "Le client est révoqué : il ne peut plus obtenir de jeton.",
    "webhook-supprime": "Le webhook est supprimé.",
    "renvoi": "Les événements des dernières 24 heures sont renvoyés.",
    "webhook-reactive": "Le webhook est réactivé : les événements en attente repartent.",
}


class Integrations(Controller):
    path = "/integrations"
    include_in_schema = False

    async def _page(
        self,
        request: Request[Any, Any, Any],
        admin: Staff,
        auth: AuthApi,
        referrals: ReferralsApi,
        *,
        status: int = 200,
        **context: Any,
    ) -> Response[Any]:
        assert admin.structure_id is not None
        clients, webhooks = await asyncio.gather(
            auth.clients(admin.structure_id), referrals.webhooks()
        )
        deliveries = await asyncio.gather(*(referrals.deliveries(w.id, 5) for w in webhooks))
        context.setdefault("errors", {})
        context.setdefault("typed", {})
        return render(
            request,
            "integrations/integrations.html",
            status=status,
            title="Intégrations",
            clients=[c for c in clients if c.revoked_at is None],
            webhooks=list(zip(webhooks, deliveries, strict=True)),
            scopes=API_SCOPES,
            **context,
        )

    @get()
    async def overview(
        self,
        request: Request[Any, Any, Any],
        admin: Staff,
        auth: AuthApi,
        referrals: ReferralsApi,
        message: str = "",
    ) -> Response[Any]:
        return await self._page(request, admin, auth, referrals, message=MESSAGES.get(message))

    @post("/clients", status_code=201)
    async def create_client(
        self,
        request: Request[Any, Any, Any],
        admin: Staff,
        auth: AuthApi,
        referrals: ReferralsApi,
        form: Form,
    ) -> Response[Any]:
        assert admin.structure_id is not None
        name = one(form, "name")
        scopes = [s for s in form.get("scopes", []) if s in API_SCOPES]
        try:
            created = await auth.create_client(admin.structure_id, name, scopes)
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            errors = {k.split("[")[0]: v for k, v in exc.field_errors().items()}
            return await self._page(
                request,
                admin,
                auth,
                referrals,
                status=422,
                errors=errors or {"name": exc.problem.detail or "refusé"},
                typed={"name": name, "scopes": scopes},
            )
        return await self._page(request, admin, auth, referrals, status=201, new_client=created)

    @post("/clients/{client_id:str}/revoquer", status_code=303)
    async def revoke_client(
        self, admin: Staff, auth: AuthApi, form: Form, client_id: str
    ) -> Response[Any]:
        assert admin.structure_id is not None
        await auth.revoke_client(admin.structure_id, client_id[:64])
        return see_other("/integrations?message=client-revoque")

    @post("/webhooks", status_code=201)
    async def create_webhook(
        self,
        request: Request[Any, Any, Any],
        admin: Staff,
        auth: AuthApi,
        referrals: ReferralsApi,
        form: Form,
    ) -> Response[Any]:
        url, description = one(form, "url"), one(form, "description")
        try:
            created = await referrals.create_webhook(url, [], description or None)
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            errors = {k.split("[")[0]: v for k, v in exc.field_errors().items()}
            return await self._page(
                request,
                admin,
                auth,
                referrals,
                status=422,
                errors=errors or {"url": exc.problem.detail or "adresse refusée"},
                typed={"url": url, "description": description},
            )
        return await self._page(request, admin, auth, referrals, status=201, new_webhook=created)

    @post("/webhooks/{webhook_id:uuid}/{action:str}", status_code=200)
    async def webhook(
        self,
        request: Request[Any, Any, Any],
        admin: Staff,
        auth: AuthApi,
        referrals: ReferralsApi,
        form: Form,
        webhook_id: uuid.UUID,
        action: str,
    ) -> Response[Any]:
        if action == "secret":
            rotated = await referrals.rotate_secret(webhook_id)
            return await self._page(request, admin, auth, referrals, new_webhook=rotated)
        if action == "tester":
            tested = await referrals.test_webhook(webhook_id)
            return await self._page(request, admin, auth, referrals, tested=(webhook_id, tested))
        if action == "renvoyer":
            await referrals.replay(webhook_id, utcnow() - timedelta(hours=24))
            return see_other("/integrations?message=renvoi")
        if action == "reactiver":
            await referrals.reactivate_webhook(webhook_id)
            return see_other("/integrations?message=webhook-reactive")
        if action == "supprimer":
            await referrals.delete_webhook(webhook_id)
            return see_other("/integrations?message=webhook-supprime")
        raise ApiError.not_found()


ROUTES = [Integrations]
