"""Public contract of webhook subscriptions, their delivery log and replays."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]  # with its UTC offset
URL = Annotated[str, msgspec.Meta(min_length=8, max_length=2000)]
EventTypes = Annotated[
    list[Annotated[str, msgspec.Meta(max_length=60)]], msgspec.Meta(max_length=40)
]


class WebhookCreate(_In):
    url: URL
    event_types: EventTypes = msgspec.field(default_factory=list)
    description: Annotated[str, msgspec.Meta(max_length=300)] | None = None


class WebhookUpdate(_In):
    url: URL | msgspec.UnsetType = msgspec.UNSET
    event_types: EventTypes | msgspec.UnsetType = msgspec.UNSET
    description: Annotated[str, msgspec.Meta(max_length=300)] | msgspec.UnsetType | None = (
        msgspec.UNSET
    )
    status: Literal["active", "disabled"] | msgspec.UnsetType = msgspec.UNSET


class WebhookRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    structure_id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    status: Literal["active", "disabled"]
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    previous_secret_until: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead, kw_only=True):
    """Returned once, on creation and rotation: keep ``secret`` (``whsec_…``) to verify."""

    secret: str


class RotateIn(_In):
    overlap_hours: Annotated[float, msgspec.Meta(ge=0, le=168)] | None = None


class ReplayIn(_In):
    """Replay one event (``event_id``) or every event of a time range (``since``/``until``)."""

    event_id: uuid.UUID | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class ReplayRead(msgspec.Struct, kw_only=True):
    queued: int


class AttemptRead(msgspec.Struct, kw_only=True):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    message_id: str
    event_id: uuid.UUID | None
    event_type: str
    referral_id: uuid.UUID | None
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    replay_of: uuid.UUID | None
    created_at: datetime
    log: list[AttemptRead]


class DeliveryLog(msgspec.Struct, kw_only=True):
    items: list[DeliveryRead]
    next_cursor: str | None


class PingData(msgspec.Struct, kw_only=True):
    webhook_id: uuid.UUID
    structure_id: uuid.UUID


class PingMessage(msgspec.Struct, kw_only=True):
    """The body of a test delivery: no referral, only which subscription is being tested."""

    id: uuid.UUID
    type: Literal["ping"] = "ping"
    timestamp: datetime
    data: PingData


class WebhookTestRead(msgspec.Struct, kw_only=True):
    """The outcome of a test delivery: sent once, now; not retried, not in the delivery log,
    and without effect on the subscription's failure count."""

    message_id: str
    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: int
