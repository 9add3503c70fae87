"""Webhook subscriptions of a structure: create, change, rotate the secret, replay, log."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.clock import utcnow
from services.kernel.problems import ProblemError, field_error
from services.kernel.settings import Settings
from services.referrals import models as m
from services.referrals.crypto import Keyring
from services.referrals.feed import EVENT_TYPES, visible_to
from services.referrals.webhooks import guard, signing
from services.referrals.webhooks.delivery import (
    delivery_for,
    previous_secret_context,
    secret_context,
)
from services.referrals.webhooks.schemas import (
    AttemptRead,
    DeliveryRead,
    ReplayIn,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

MAX_SUBSCRIPTIONS = 20
MAX_REPLAY = 10_000


def check_url(url: str, settings: Settings) -> None:
    try:
        guard.check_url(url, settings)
    except guard.UnsafeURL as exc:
        raise field_error("url", str(exc)) from None


def check_types(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise field_error("event_types", f"type(s) inconnu(s) : {', '.join(unknown)}")
    return sorted(set(types))


def read(sub: m.WebhookSubscription) -> WebhookRead:
    return WebhookRead(
        id=sub.id,
        structure_id=sub.structure_id,
        url=sub.url,
        event_types=list(sub.event_types),
        description=sub.description,
        status=sub.status,  # type: ignore[arg-type]
        consecutive_failures=sub.consecutive_failures,
        disabled_at=sub.disabled_at,
        disabled_reason=sub.disabled_reason,
        previous_secret_until=sub.previous_secret_until,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
    )


def with_secret(sub: m.WebhookSubscription, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**msgspec.structs.asdict(read(sub)), secret=secret)


async def create(
    session: AsyncSession,
    keyring: Keyring,
    settings: Settings,
    structure_id: uuid.UUID,
    subject: str,
    body: WebhookCreate,
) -> WebhookWithSecret:
    check_url(body.url, settings)
    types = check_types(body.event_types)
    count = await session.scalar(
        sa.select(sa.func.count())
        .select_from(m.WebhookSubscription)
        .where(m.WebhookSubscription.structure_id == structure_id)
    )
    if (count or 0) >= MAX_SUBSCRIPTIONS:
        raise ProblemError(
            409, f"Une structure peut avoir au plus {MAX_SUBSCRIPTIONS} abonnements."
        )
    now = utcnow()
    sub_id = uuid.uuid4()
    secret = signing.new_secret()
    sub = m.WebhookSubscription(
        id=sub_id,
        structure_id=structure_id,
        url=body.url,
        event_types=types,
        description=body.description,
        secret_enc=keyring.seal(secret, secret_context(sub_id)),
        status="active",
        consecutive_failures=0,
        created_by=subject,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    await session.flush()
    return with_secret(sub, secret)


async def get(
    session: AsyncSession, structure_id: uuid.UUID, subscription_id: uuid.UUID
) -> m.WebhookSubscription:
    sub = await session.get(m.WebhookSubscription, subscription_id)
    if sub is None or sub.structure_id != structure_id:
        raise ProblemError(404, "Abonnement introuvable.")
    return sub


async def list_for(session: AsyncSession, structure_id: uuid.UUID) -> list[WebhookRead]:
    rows = await session.scalars(
        sa.select(m.WebhookSubscription)
        .where(m.WebhookSubscription.structure_id == structure_id)
        .order_by(m.WebhookSubscription.created_at, m.WebhookSubscription.id)
    )
    return [read(s) for s in rows.all()]


async def update(
    session: AsyncSession,
    settings: Settings,
    sub: m.WebhookSubscription,
    body: WebhookUpdate,
) -> WebhookRead:
    now = utcnow()
    if not isinstance(body.url, msgspec.UnsetType):
        check_url(body.url, settings)
        sub.url = body.url
    if not isinstance(body.event_types, msgspec.UnsetType):
        sub.event_types = check_types(body.event_types)
    if not isinstance(body.description, msgspec.UnsetType):
        sub.description = body.description
    if not isinstance(body.status, msgspec.UnsetType) and body.status != sub.status:
        sub.status = body.status
        if body.status == "active":  # re-enabled: pending messages resume, in order
            sub.consecutive_failures = 0
            sub.first_failure_at = None
            sub.disabled_at = None
            sub.disabled_reason = None
        else:
            sub.disabled_at = now
            sub.disabled_reason = "désactivé par la structure"
    sub.updated_at = now
    await session.flush()
    return read(sub)


async def rotate_secret(
    session: AsyncSession,
    keyring: Keyring,
    settings: Settings,
    sub: m.WebhookSubscription,
    overlap_hours: float | None,
) -> WebhookWithSecret:
    """A new secret signs from now on; the previous one also signs during the overlap."""
    now = utcnow()
    hours = settings.webhook_secret_overlap_hours if overlap_hours is None else overlap_hours
    current = keyring.open(sub.secret_enc, secret_context(sub.id))
    secret = signing.new_secret()
    sub.previous_secret_enc = (
        keyring.seal(current, previous_secret_context(sub.id)) if hours > 0 else None
    )
    sub.previous_secret_until = now + timedelta(hours=hours) if hours > 0 else None
    sub.secret_enc = keyring.seal(secret, secret_context(sub.id))
    sub.updated_at = now
    await session.flush()
    return with_secret(sub, secret)


async def replay(session: AsyncSession, sub: m.WebhookSubscription, body: ReplayIn) -> int:
    """Queue the events again (same ``webhook-id``), in order, as new deliveries; an event whose
    delivery to this subscription is still pending is not queued twice (it is on its way)."""
    if body.event_id is None and body.since is None:
        raise field_error("event_id", "indiquez un événement ou une période (since, until)")
    if body.event_id is not None and (body.since or body.until):
        raise field_error("event_id", "un événement ou une période, pas les deux")
    if body.since and body.until and body.until < body.since:
        raise field_error("until", "doit suivre since")
    query = sa.select(m.TimelineEvent).where(visible_to(session, sub.structure_id))
    if body.event_id is not None:
        query = query.where(m.TimelineEvent.id == body.event_id)
    else:
        assert body.since is not None
        query = query.where(m.TimelineEvent.occurred_at >= body.since)
        if body.until is not None:
            query = query.where(m.TimelineEvent.occurred_at < body.until)
    if sub.event_types:
        query = query.where(m.TimelineEvent.type.in_(sub.event_types))
    rows = list(
        (
            await session.scalars(query.order_by(m.TimelineEvent.position).limit(MAX_REPLAY + 1))
        ).all()
    )
    if body.event_id is not None and not rows:
        raise ProblemError(404, "Événement introuvable pour cet abonnement.")
    if len(rows) > MAX_REPLAY:
        raise field_error("since", f"période trop large (plus de {MAX_REPLAY} événements)")
    on_their_way = set(
        (
            await session.scalars(
                sa.select(m.WebhookDelivery.event_id).where(
                    m.WebhookDelivery.subscription_id == sub.id,
                    m.WebhookDelivery.status == "pending",
                    m.WebhookDelivery.event_id.in_([event.id for event in rows]),
                )
            )
        ).all()
    )
    queued = [event for event in rows if event.id not in on_their_way]
    for event in queued:
        session.add(delivery_for(sub, event, replay_of=event.id))
    await session.flush()
    return len(queued)


async def deliveries(
    session: AsyncSession,
    sub: m.WebhookSubscription,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    status: str | None,
    limit: int,
) -> list[DeliveryRead]:
    query = sa.select(m.WebhookDelivery).where(m.WebhookDelivery.subscription_id == sub.id)
    if status:
        query = query.where(m.WebhookDelivery.status == status)
    if before is not None:
        query = query.where(
            sa.tuple_(m.WebhookDelivery.created_at, m.WebhookDelivery.id) < sa.tuple_(*before)
        )
    rows = list(
        (
            await session.scalars(
                query.order_by(
                    m.WebhookDelivery.created_at.desc(), m.WebhookDelivery.id.desc()
                ).limit(limit)
            )
        ).all()
    )
    attempts: dict[uuid.UUID, list[AttemptRead]] = {}
    if rows:
        found = await session.scalars(
            sa.select(m.WebhookAttempt)
            .where(m.WebhookAttempt.delivery_id.in_([r.id for r in rows]))
            .order_by(m.WebhookAttempt.attempted_at)
        )
        for a in found.all():
            attempts.setdefault(a.delivery_id, []).append(
                AttemptRead(
                    attempted_at=a.attempted_at,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                )
            )
    return [
        DeliveryRead(
            id=r.id,
            message_id=r.message_id,
            event_id=r.event_id,
            event_type=r.event_type,
            referral_id=r.referral_id,
            status=r.status,  # type: ignore[arg-type]
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at if r.status == "pending" else None,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
            delivered_at=r.delivered_at,
            replay_of=r.replay_of,
            created_at=r.created_at,
            log=attempts.get(r.id, []),
        )
        for r in rows
    ]


def as_datetime(value: str) -> datetime:
    return datetime.fromisoformat(value)
