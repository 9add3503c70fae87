"""The referrals service's public API, as the pages of this app use it (``/referrals/v1``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import msgspec

from services.web.clients.base import ApiClient, Params

PREFIX = "/referrals/v1"
AWAITING = ("sent", "acknowledged")


class Handoff(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    state: str
    to_structure_name: str
    to_service_name: str | None = None
    respond_by: datetime
    overdue: bool = False
    created_at: datetime
    position: int = 1
    version: int = 1
    from_structure_id: uuid.UUID | None = None
    to_structure_id: uuid.UUID | None = None
    to_service_id: uuid.UUID | None = None
    decline_reason: str | None = None
    cancel_reason: str | None = None
    comment: str | None = None
    relayed_to_id: uuid.UUID | None = None
    updated_at: datetime | None = None
    allowed_actions: list[str] = []


class BoxItem(msgspec.Struct, kw_only=True):
    referral_id: uuid.UUID
    referral_status: str
    thematiques: list[str] = []
    urgency: str | None = None
    handoff: Handoff
    origin_structure_id: uuid.UUID | None = None
    referent: str | None = None
    channel: str | None = None
    closing_ends_at: datetime | None = None  # one side has closed its part


class Person(msgspec.Struct, kw_only=True):
    first_name: str | None = None
    last_name: str | None = None
    pseudonym: str | None = None
    birth_year: int | None = None
    birth_date: date | None = None
    contact_method: str | None = None
    phone: str | None = None
    email: str | None = None
    postal_address: str | None = None
    preferred_language: str | None = None
    accessibility_needs: str | None = None


class Need(msgspec.Struct, kw_only=True):
    thematiques: list[str]
    urgency: str
    channel: str
    age_band: str
    sex: str
    summary: str | None = None


class Consent(msgspec.Struct, kw_only=True):
    status: str
    given_by: str
    method: str
    given_at: datetime
    purpose: str | None = None  # shown only where the consent lets the structure hold data
    data_categories: list[str]
    recipients: list[uuid.UUID]
    further_partners: bool
    onward_relay_allowed: bool
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None


class ReferralOutcome(msgspec.Struct, kw_only=True):
    outcome: str
    evaluation_score: int | None = None
    evaluation_comment: str | None = None
    closed_at: datetime | None = None
    side: str | None = None  # referent or partner


class Attachment(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    content_type: str
    size: int
    filename: str | None = None
    created_at: datetime
    erased: bool = False


class Referral(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    status: str
    structure_id: uuid.UUID
    referent: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int
    personal_data: str
    person: Person | None = None
    need: Need
    consent: Consent
    current_handoff_id: uuid.UUID | None = None
    handoffs: list[Handoff] = []
    outcome: ReferralOutcome | None = None
    second_outcome: ReferralOutcome | None = None
    closing_ends_at: datetime | None = None  # one side has closed its part
    attachments: list[Attachment] = []
    allowed_actions: list[str] = []
    follow_up_code: str | None = None  # only in the answer to the creation


class PublicStructure(msgspec.Struct, kw_only=True):
    name: str
    phone: str | None = None


class FollowUp(msgspec.Struct, kw_only=True):
    """The person's view of their request (by their follow-up code)."""

    stage: str
    holder: PublicStructure | None = None
    referent_structure: PublicStructure | None = None
    since: datetime
    respond_by: datetime | None = None
    taken_over: bool = False
    ended_at: datetime | None = None
    valid_until: datetime | None = None
    can_withdraw: bool = False
    can_give_feedback: bool = False
    feedback: str | None = None
    partners: list[str] = []


class FollowUpCode(msgspec.Struct, kw_only=True):
    referral_id: uuid.UUID
    code: str
    valid_until: datetime | None = None


class TimelineEvent(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    position: int
    type: str
    handoff_id: uuid.UUID | None = None
    actor_structure_id: uuid.UUID | None = None
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    comment: str | None = None
    occurred_at: datetime
    actor_kind: str | None = None  # "person": the person themself, by their follow-up link


class Timeline(msgspec.Struct, kw_only=True):
    items: list[TimelineEvent]
    next_cursor: str | None = None


class Preferences(msgspec.Struct, kw_only=True):
    email: str | None = None
    mode: str = "off"
    referent_events: list[str] = []


class StatsGroup(msgspec.Struct, kw_only=True):
    id: str
    label: str


class StatsCategory(msgspec.Struct, kw_only=True):
    code: str
    label: str


class StatsRow(msgspec.Struct, kw_only=True):
    group: str
    group_label: str
    cells: dict[str, int | None]
    total: int | None


class StatsTable(msgspec.Struct, kw_only=True):
    name: str
    label: str
    unit: str
    categories: list[StatsCategory]
    rows: list[StatsRow]


class StatsDelay(msgspec.Struct, kw_only=True):
    name: str
    label: str
    group: str
    group_label: str
    median_hours: float | None
    p90_hours: float | None


class StatsRate(msgspec.Struct, kw_only=True):
    name: str
    label: str
    group: str
    group_label: str
    numerator: int | None
    denominator: int | None
    rate: float | None


class StatsMean(msgspec.Struct, kw_only=True):
    name: str
    label: str
    group: str
    group_label: str
    count: int | None
    mean: float | None


class Stats(msgspec.Struct, kw_only=True):
    """Anonymous statistics, every group and category named; ``None`` is a value hidden by
    statistical secrecy."""

    since: datetime
    until: datetime
    scope: str
    group_by: str
    min_cell: int
    groups: list[StatsGroup]
    tables: list[StatsTable]
    delays: list[StatsDelay]
    rates: list[StatsRate]
    means: list[StatsMean]


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


class WebhookTest(msgspec.Struct, kw_only=True):
    """How the endpoint answered a test message (``ping``) sent just now."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0


class Replay(msgspec.Struct, kw_only=True):
    queued: int


class Count(msgspec.Struct, kw_only=True):
    """How many handoffs of the inbox match (``GET /referrals/v1/inbox/count``)."""

    value: int = msgspec.field(name="count")

    def __str__(self) -> str:
        return str(self.value)


def _if_match(version: int, key: str) -> dict[str, str]:
    """A write's headers: the version read (``If-Match``) and the form's ``Idempotency-Key``."""
    return {"If-Match": f'"{version}"', "Idempotency-Key": key}


class ReferralsApi(ApiClient):
    async def renew_follow_up_code(self, referral_id: uuid.UUID) -> FollowUpCode:
        """Revoke the person's follow-up code and get a new one (shown once)."""
        response = await self.send("POST", f"{PREFIX}/referrals/{referral_id}/follow-up-code")
        return msgspec.json.decode(response.content, type=FollowUpCode)

    async def create_referral(self, body: dict[str, Any], idempotency_key: str) -> Referral:
        """Send a referral; a retry with the same key and body returns the first one."""
        response = await self.send(
            "POST",
            f"{PREFIX}/referrals",
            json=body,
            headers={"Idempotency-Key": idempotency_key},
        )
        return msgspec.json.decode(response.content, type=Referral)

    async def attach(
        self,
        referral_id: uuid.UUID,
        content: bytes,
        content_type: str,
        filename: str,
        idempotency_key: str,
    ) -> None:
        """Join a document (the name travels in Content-Disposition, never in the URL)."""
        await self.send(
            "POST",
            f"{PREFIX}/referrals/{referral_id}/attachments",
            content=content,
            headers={
                "Content-Type": content_type,
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                "Idempotency-Key": idempotency_key,
            },
        )

    async def stats(self, params: Params) -> Stats:
        return await self.get(f"{PREFIX}/stats", Stats, params=params)

    async def stats_csv(self, params: Params) -> bytes:
        """The same statistics as the API's CSV (French headers and labels)."""
        response = await self.send("GET", f"{PREFIX}/stats", params={**params, "format": "csv"})
        return response.content

    async def inbox(self, params: Params) -> Box:
        return await self.get(f"{PREFIX}/inbox", Box, params=params)

    async def outbox(self, params: Params) -> Box:
        return await self.get(f"{PREFIX}/outbox", Box, params=params)

    async def referral(self, referral_id: uuid.UUID) -> Referral:
        return await self.get(f"{PREFIX}/referrals/{referral_id}", Referral)

    async def timeline(self, referral_id: uuid.UUID) -> list[TimelineEvent]:
        """Every event the structure may see, oldest first (all pages)."""
        events: list[TimelineEvent] = []
        cursor: str | None = None
        while True:
            page = await self.get(
                f"{PREFIX}/referrals/{referral_id}/timeline",
                Timeline,
                params={"limit": 200, "cursor": cursor},
            )
            events += page.items
            cursor = page.next_cursor
            if cursor is None:
                return events

    async def transition(
        self,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
        version: int,
        action: str,
        key: str,
        body: dict[str, Any] | None = None,
    ) -> Handoff:
        """acknowledge, accept, decline, take-over, cancel or relay one handoff, as of
        ``version`` (the one the page showed)."""
        response = await self.send(
            "POST",
            f"{PREFIX}/referrals/{referral_id}/handoffs/{handoff_id}/{action}",
            json=body,
            headers=_if_match(version, key),
        )
        return msgspec.json.decode(response.content, type=Handoff)

    async def reorient(self, referral_id: uuid.UUID, key: str, body: dict[str, Any]) -> Handoff:
        response = await self.send(
            "POST",
            f"{PREFIX}/referrals/{referral_id}/handoffs",
            json=body,
            headers={"Idempotency-Key": key},
        )
        return msgspec.json.decode(response.content, type=Handoff)

    async def act_on_referral(
        self,
        referral_id: uuid.UUID,
        action: str,
        version: int,
        key: str,
        body: dict[str, Any] | None = None,
    ) -> Referral:
        """close, referent or consent/withdraw, with the referral's version read."""
        response = await self.send(
            "POST",
            f"{PREFIX}/referrals/{referral_id}/{action}",
            json=body,
            headers=_if_match(version, key),
        )
        return msgspec.json.decode(response.content, type=Referral)

    async def export(self, referral_id: uuid.UUID) -> bytes:
        """The person's file (right of access), as the API's JSON."""
        response = await self.send("GET", f"{PREFIX}/referrals/{referral_id}/export")
        return response.content

    async def attachment(
        self, referral_id: uuid.UUID, attachment_id: uuid.UUID
    ) -> tuple[bytes, str, str]:
        """A document: its bytes, type and Content-Disposition."""
        response = await self.send(
            "GET", f"{PREFIX}/referrals/{referral_id}/attachments/{attachment_id}"
        )
        return (
            response.content,
            response.headers.get("content-type", "application/octet-stream"),
            response.headers.get("content-disposition", "attachment"),
        )

    async def preferences(self) -> Preferences:
        return await self.get(f"{PREFIX}/notifications/preferences", Preferences)

    async def set_preferences(self, body: dict[str, Any]) -> Preferences:
        response = await self.send("PUT", f"{PREFIX}/notifications/preferences", json=body)
        return msgspec.json.decode(response.content, type=Preferences)

    async def record_address(self, email: str) -> None:
        """Give the person's address if the API has none for this structure, the other choices
        kept as they are: the defaults (told of a refusal, an expiry or a takeover on the
        referrals they follow) then reach them. « Mes notifications » changes it."""
        current = await self.preferences()
        if current.email is None:
            await self.set_preferences(
                {"email": email, "mode": current.mode, "referent_events": current.referent_events}
            )

    async def count_inbox(self, params: Params) -> Count:
        return await self.get(f"{PREFIX}/inbox/count", Count, params=params)

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

    async def test_webhook(self, webhook_id: uuid.UUID) -> WebhookTest:
        response = await self.send("POST", f"{PREFIX}/webhooks/{webhook_id}/test")
        return msgspec.json.decode(response.content, type=WebhookTest)

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

    async def reactivate_webhook(self, webhook_id: uuid.UUID) -> None:
        """After a disabling for repeated failures: deliveries resume, in order."""
        await self.send("PATCH", f"{PREFIX}/webhooks/{webhook_id}", json={"status": "active"})

    async def delete_webhook(self, webhook_id: uuid.UUID) -> None:
        await self.send("DELETE", f"{PREFIX}/webhooks/{webhook_id}")


class FollowUpApi(ApiClient):
    """The person's follow-up, by code, without a token. ``address``: the person's, forwarded
    so that the API's limits count per person, not per web app."""

    def __init__(self, http: Any, address: str) -> None:
        super().__init__(http, None)
        self.address = address

    def _path(self, code: str, action: str = "") -> str:
        return f"{PREFIX}/follow-up/{quote(code, safe='')}{action}"

    async def _call(self, method: str, path: str, json: Any = None) -> FollowUp:
        response = await self.send(
            method, path, json=json, headers={"X-Forwarded-For": self.address}
        )
        return msgspec.json.decode(response.content, type=FollowUp)

    async def status(self, code: str) -> FollowUp:
        return await self._call("GET", self._path(code))

    async def withdraw(self, code: str) -> FollowUp:
        return await self._call("POST", self._path(code, "/withdraw"))

    async def feedback(self, code: str, answer: str, comment: str | None) -> FollowUp:
        body = {"answer": answer, "comment": comment} if comment else {"answer": answer}
        return await self._call("POST", self._path(code, "/feedback"), body)
