"""Webhook subscriptions of the caller's structure (structure admins, `webhooks:manage` clients)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter

from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.identity import Caller, Scope
from services.kernel.pagination import DEFAULT_LIMIT, check_limit, decode_cursor, encode_cursor
from services.kernel.problems import ProblemError
from services.referrals.api.common import PREFIX
from services.referrals.service import ReferralService
from services.referrals.webhooks import delivery
from services.referrals.webhooks import subscriptions as subs
from services.referrals.webhooks.schemas import (
    DeliveryLog,
    ReplayIn,
    ReplayRead,
    RotateIn,
    WebhookCreate,
    WebhookRead,
    WebhookTestRead,
    WebhookUpdate,
    WebhookWithSecret,
)


def managing_structure(caller: Caller) -> uuid.UUID:
    """The structure whose webhooks the caller manages: its admin, or a client with the scope."""
    if caller.structure_id is None or not caller.may(
        Scope.WEBHOOKS_MANAGE, caller.structure_id, admin=True
    ):
        raise ProblemError(
            403,
            "Gérer les webhooks demande d'être administrateur de la structure "
            "ou un client avec la portée « webhooks:manage ».",
        )
    return caller.structure_id


class WebhooksController(Controller):
    path = f"{PREFIX}/webhooks"
    opt = {CLIENT_SCOPES: ClientScopes(read=Scope.WEBHOOKS_MANAGE, write=Scope.WEBHOOKS_MANAGE)}  # noqa: RUF012
    tags = ("Webhooks",)
    security = [{"bearer": []}]  # noqa: RUF012

    @post("/", operation_id="CreateWebhook", status_code=201)
    async def create(
        self, svc: ReferralService, authenticated: Caller, data: WebhookCreate
    ) -> WebhookWithSecret:
        """Subscribe an HTTPS endpoint; the signing secret is shown only in this response."""
        structure_id = managing_structure(authenticated)
        return await subs.create(
            svc.session, svc.keyring, svc.settings, structure_id, authenticated.subject, data
        )

    @get("/", operation_id="ListWebhooks")
    async def list_(self, svc: ReferralService, authenticated: Caller) -> list[WebhookRead]:
        """The structure's subscriptions."""
        return await subs.list_for(svc.session, managing_structure(authenticated))

    @get("/{webhook_id:uuid}", operation_id="GetWebhook")
    async def get_one(
        self, svc: ReferralService, authenticated: Caller, webhook_id: uuid.UUID
    ) -> WebhookRead:
        """One subscription of the structure (its secret is never shown again)."""
        sub = await subs.get(svc.session, managing_structure(authenticated), webhook_id)
        return subs.read(sub)

    @patch("/{webhook_id:uuid}", operation_id="UpdateWebhook")
    async def update(
        self,
        svc: ReferralService,
        authenticated: Caller,
        webhook_id: uuid.UUID,
        data: WebhookUpdate,
    ) -> WebhookRead:
        """Change the URL or event types, or disable / re-enable (pending messages resume)."""
        sub = await subs.get(svc.session, managing_structure(authenticated), webhook_id)
        return await subs.update(svc.session, svc.settings, sub, data)

    @delete("/{webhook_id:uuid}", operation_id="DeleteWebhook", status_code=204)
    async def remove(
        self, svc: ReferralService, authenticated: Caller, webhook_id: uuid.UUID
    ) -> None:
        """Delete a subscription: nothing more is sent to it."""
        sub = await subs.get(svc.session, managing_structure(authenticated), webhook_id)
        await svc.session.delete(sub)

    @post("/{webhook_id:uuid}/rotate-secret", operation_id="RotateWebhookSecret", status_code=200)
    async def rotate(
        self,
        svc: ReferralService,
        authenticated: Caller,
        webhook_id: uuid.UUID,
        data: RotateIn | None = None,
    ) -> WebhookWithSecret:
        """New secret, shown once; the previous one keeps signing during the overlap (both
        signatures are sent in `webhook-signature`)."""
        sub = await subs.get(svc.session, managing_structure(authenticated), webhook_id)
        overlap = data.overlap_hours if data is not None else None
        return await subs.rotate_secret(svc.session, svc.keyring, svc.settings, sub, overlap)

    @post("/{webhook_id:uuid}/test", operation_id="TestWebhook", status_code=200)
    async def test(
        self, svc: ReferralService, authenticated: Caller, webhook_id: uuid.UUID
    ) -> WebhookTestRead:
        """Send a signed `ping` message (`type: ping`, `data`: the webhook and structure ids)
        to the endpoint now, and say how it answered. Sent once, even to a disabled
        subscription: not retried, not in the delivery log, no effect on the failure count."""
        sub = await subs.get(svc.session, managing_structure(authenticated), webhook_id)
        result = await delivery.ping(sub, svc.keyring, svc.settings)
        return WebhookTestRead(
            message_id=result.claimed.message_id,
            delivered=result.ok,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )

    @post("/{webhook_id:uuid}/replay", operation_id="ReplayWebhook", status_code=202)
    async def replay(
        self,
        svc: ReferralService,
        authenticated: Caller,
        webhook_id: uuid.UUID,
        data: ReplayIn,
    ) -> ReplayRead:
        """Send one event again, or every event of a period, with their original `webhook-id`."""
        sub = await subs.get(svc.session, managing_structure(authenticated), webhook_id)
        return ReplayRead(queued=await subs.replay(svc.session, sub, data))

    @get("/{webhook_id:uuid}/deliveries", operation_id="ListWebhookDeliveries")
    async def deliveries(
        self,
        svc: ReferralService,
        authenticated: Caller,
        webhook_id: uuid.UUID,
        cursor: str | None = None,
        status: Literal["pending", "delivered", "failed"] | None = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=200),
    ) -> DeliveryLog:
        """The delivery log, newest first: each message, its attempts, status codes, errors."""
        sub = await subs.get(svc.session, managing_structure(authenticated), webhook_id)
        check_limit(limit)
        before = None
        if cursor:
            at, ident = decode_cursor(cursor, [str, str])
            try:
                before = (datetime.fromisoformat(at), uuid.UUID(ident))
            except ValueError:
                decode_cursor("!", [int])  # raises the standard 400
        items = await subs.deliveries(
            svc.session, sub, before=before, status=status, limit=limit + 1
        )
        nxt = None
        if len(items) > limit:
            items = items[:limit]
            nxt = encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)])
        return DeliveryLog(items=items, next_cursor=nxt)
