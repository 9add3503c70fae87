"""The referrals service's public API, as the pages of this app use it (``/referrals/v1``)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from services.web.clients.base import ApiClient, Params

PREFIX = "/referrals/v1"
COUNT_LIMIT = 100  # the largest page: counts above it are shown as « 100 ou plus »
AWAITING = ("sent", "acknowledged")


class Handoff(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    state: str
    to_structure_name: str
    to_service_name: str | None = None
    respond_by: datetime
    overdue: bool = False
    created_at: datetime


class BoxItem(msgspec.Struct, kw_only=True):
    referral_id: uuid.UUID
    referral_status: str
    thematiques: list[str] = []
    urgency: str | None = None
    handoff: Handoff


class Box(msgspec.Struct, kw_only=True):
    items: list[BoxItem]
    next_cursor: str | None = None


class Webhook(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    url: str
    event_types: list[str] = []
    description: str | None = None
    status: str
    consecutive_failures: int = 0
    disabled_reason: str | None = None
    previous_secret_until: datetime | None = None
    created_at: datetime


class WebhookWithSecret(Webhook, kw_only=True):
    secret: str


class Delivery(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    created_at: datetime


class Deliveries(msgspec.Struct, kw_only=True):
    items: list[Delivery]


class Replay(msgspec.Struct, kw_only=True):
    queued: int


class Count(msgspec.Struct, kw_only=True):
    value: int
    more: bool

    def __str__(self) -> str:
        return f"{self.value} ou plus" if self.more else str(self.value)


class ReferralsApi(ApiClient):
    async def inbox(self, params: Params) -> Box:
        return await self.get(f"{PREFIX}/inbox", Box, params=params)

    async def count_inbox(self, params: Params) -> Count:
        """How many handoffs of the inbox match (the API has no count: one page of at most
        COUNT_LIMIT, « ou plus » beyond)."""
        box = await self.inbox({**params, "limit": COUNT_LIMIT})
        return Count(value=len(box.items), more=box.next_cursor is not None)

    async def webhooks(self) -> list[Webhook]:
        return await self.get(f"{PREFIX}/webhooks", list[Webhook])

    async def create_webhook(
        self, url: str, event_types: list[str], description: str | None
    ) -> WebhookWithSecret:
        response = await self.send(
            "POST",
            f"{PREFIX}/webhooks",
            json={"url": url, "event_types": event_types, "description": description},
        )
        return msgspec.json.decode(response.content, type=WebhookWithSecret)

    async def rotate_secret(self, webhook_id: uuid.UUID) -> WebhookWithSecret:
        response = await self.send("POST", f"{PREFIX}/webhooks/{webhook_id}/rotate-secret")
        return msgspec.json.decode(response.content, type=WebhookWithSecret)

    async def replay(self, webhook_id: uuid.UUID, since: datetime) -> Replay:
        response = await self.send(
            "POST", f"{PREFIX}/webhooks/{webhook_id}/replay", json={"since": since.isoformat()}
        )
        return msgspec.json.decode(response.content, type=Replay)

    async def deliveries(self, webhook_id: uuid.UUID, limit: int = 10) -> list[Delivery]:
        page = await self.get(
            f"{PREFIX}/webhooks/{webhook_id}/deliveries", Deliveries, params={"limit": limit}
        )
        return page.items

    async def delete_webhook(self, webhook_id: uuid.UUID) -> None:
        await self.send("DELETE", f"{PREFIX}/webhooks/{webhook_id}")
