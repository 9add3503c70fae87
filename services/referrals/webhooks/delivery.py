"""From outbox to receivers: fan-out into deliveries, then signed HTTP attempts with retries.

1. ``dispatch`` claims unprocessed outbox rows. For each referral event it adds one delivery
   per matching active subscription (the subscription's structure must be among those that may
   see the event) and queues the notification mails. Then it marks the rows processed, all in one
   transaction.
2. ``deliver`` claims due deliveries. For each (subscription, referral) it takes only the oldest
   pending one, and only once the referral has no outbox row still waiting for fan-out. That
   keeps delivery in order per referral. A claim gives the row a lease (``next_attempt_at`` moves
   past the timeout) and commits before any HTTP request. A worker killed mid-request loses
   nothing: the lease runs out and the message goes again with the same ``webhook-id`` (at least
   once).
3. Results are recorded in the delivery log. A failure is retried with exponential backoff and
   jitter until ``WEBHOOK_RETRY_HOURS`` have passed, then the delivery is marked ``failed``
   (it can be replayed). A subscription that keeps failing that long is disabled, and its
   structure is told.
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
import msgspec
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.clock import utcnow
from services.kernel.db import Database
from services.kernel.observability import counter, histogram
from services.kernel.outbox import claim, claim_batch
from services.kernel.settings import Settings
from services.referrals import models as m
from services.referrals.crypto import Keyring
from services.referrals.feed import EventData, EventMessage, event_message
from services.referrals.notifications.planner import plan_mails, plan_webhook_disabled, preload
from services.referrals.webhooks import guard, signing
from services.referrals.webhooks.schemas import PingData, PingMessage

log = structlog.get_logger("relais.referrals.webhooks")

DELIVERIES = counter(
    "relais_webhook_attempts_total", "Webhook delivery attempts by outcome", ("outcome",)
)
DELIVERY_DELAY = histogram(
    "relais_webhook_delivery_delay_seconds",
    "Delay from the event to its successful delivery",
    (),
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400),
)

MAX_BACKOFF_SECONDS = 6 * 3600.0
MAX_RESPONSE_BYTES = 65_536  # read from a receiver's answer (then dropped)
ALERT_TOPIC = "referrals.alert.referent"


def secret_context(subscription_id: uuid.UUID) -> str:
    return f"webhook:{subscription_id}:secret"


def previous_secret_context(subscription_id: uuid.UUID) -> str:
    return f"webhook:{subscription_id}:previous-secret"


def wants(subscription: m.WebhookSubscription, event_type: str, structures: Iterable[str]) -> bool:
    if subscription.status != "active":
        return False
    if subscription.event_types and event_type not in subscription.event_types:
        return False
    return str(subscription.structure_id) in set(structures)


def delivery_for(
    subscription: m.WebhookSubscription,
    event: m.TimelineEvent,
    *,
    replay_of: uuid.UUID | None = None,
) -> m.WebhookDelivery:
    message = event_message(event)
    return m.WebhookDelivery(
        id=uuid.uuid4(),
        message_id=f"msg_{event.id.hex}",
        subscription_id=subscription.id,
        referral_id=event.referral_id,
        event_id=event.id,
        seq=event.position,
        event_type=event.type,
        payload=msgspec.to_builtins(message),
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
        replay_of=replay_of,
        created_at=utcnow(),
    )


# ---- fan-out ---------------------------------------------------------------------------------


async def dispatch(db: Database, settings: Settings, *, limit: int = 200) -> int:
    """Fan one batch of outbox rows out into deliveries and mails; returns rows handled."""
    async with db.session() as session:
        rows = await claim_batch(session, m.OutboxEvent, limit=limit)
        if not rows:
            return 0
        ids = [_event_id(r) for r in rows]
        events = {
            e.id: e
            for e in (
                await session.scalars(
                    sa.select(m.TimelineEvent).where(
                        m.TimelineEvent.id.in_([i for i in ids if i is not None])
                    )
                )
            ).all()
        }
        subscriptions = list(
            (
                await session.scalars(
                    sa.select(m.WebhookSubscription).where(m.WebhookSubscription.status == "active")
                )
            ).all()
        )
        now = utcnow()
        mail_context = await preload(session, list(events.values()))
        for row, event_id in zip(rows, ids, strict=True):
            event = events.get(event_id) if event_id else None
            if event is not None:
                for subscription in subscriptions:
                    if wants(subscription, event.type, event.structures):
                        session.add(delivery_for(subscription, event))
                await plan_mails(session, settings, event, mail_context)
            row.processed_at = now
            row.attempts += 1
        return len(rows)


def _event_id(row: m.OutboxEvent) -> uuid.UUID | None:
    if row.topic == ALERT_TOPIC:  # the referent's alert: mailed from the event itself
        return None
    raw = row.payload.get("event_id")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


# ---- delivery --------------------------------------------------------------------------------


@dataclass
class Claimed:
    id: uuid.UUID
    message_id: str
    subscription_id: uuid.UUID
    url: str
    secrets: list[str]
    body: bytes
    attempts: int
    created_at: datetime
    event_at: datetime | None


@dataclass
class Result:
    claimed: Claimed
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def lease_seconds(settings: Settings) -> float:
    return settings.webhook_timeout_seconds * 1.5 + 1.0


def backoff(settings: Settings, attempts: int) -> float:
    """Exponential backoff with ±25 % jitter: base, 2×base, 4×base… capped at 6 hours."""
    delay = min(
        settings.webhook_retry_base_seconds * float(2 ** max(attempts - 1, 0)), MAX_BACKOFF_SECONDS
    )
    return delay * random.uniform(0.75, 1.25)


def encode_body(payload: dict[str, Any], settings: Settings) -> bytes:
    body = msgspec.json.encode(payload)
    if len(body) <= settings.webhook_max_payload_bytes:
        return body
    # Too large: keep the ids and states, drop the details.
    message = msgspec.convert(payload, EventMessage)
    message.data = EventData(
        referral_id=message.data.referral_id,
        handoff_id=message.data.handoff_id,
        from_state=message.data.from_state,
        to_state=message.data.to_state,
        actor_kind=message.data.actor_kind,
        structures=[],
    )
    return msgspec.json.encode(message)


async def claim_due(
    session: AsyncSession, keyring: Keyring, settings: Settings, *, limit: int
) -> list[Claimed]:
    """The oldest due delivery of each (subscription, referral), leased for this worker."""
    now = utcnow()
    d, earlier = m.WebhookDelivery, sa.orm.aliased(m.WebhookDelivery)
    blocked_by_earlier = sa.exists(
        sa.select(earlier.id).where(
            earlier.subscription_id == d.subscription_id,
            earlier.referral_id == d.referral_id,
            earlier.status == "pending",
            earlier.seq < d.seq,
        )
    )
    awaiting_fanout = sa.exists(
        sa.select(m.OutboxEvent.id).where(
            m.OutboxEvent.aggregate_id == sa.cast(d.referral_id, sa.String),
            m.OutboxEvent.processed_at.is_(None),
            m.OutboxEvent.topic != ALERT_TOPIC,
        )
    )
    query = (
        sa.select(d, m.WebhookSubscription)
        .join(m.WebhookSubscription, m.WebhookSubscription.id == d.subscription_id)
        .where(
            d.status == "pending",
            d.next_attempt_at <= now,
            m.WebhookSubscription.status == "active",
            sa.not_(blocked_by_earlier),
            sa.not_(awaiting_fanout),
        )
        .order_by(d.next_attempt_at, d.seq)
        .limit(limit)
    )
    rows = [(row[0], row[1]) for row in await claim(session, query, d)]
    lease_until = now + timedelta(seconds=lease_seconds(settings))
    claimed: list[Claimed] = []
    secrets: dict[uuid.UUID, list[str]] = {}
    for delivery, subscription in rows:
        if subscription.id not in secrets:
            secrets[subscription.id] = signing_secrets(subscription, keyring, now)
        delivery.next_attempt_at = lease_until
        delivery.attempts += 1
        claimed.append(
            Claimed(
                id=delivery.id,
                message_id=delivery.message_id,
                subscription_id=subscription.id,
                url=subscription.url,
                secrets=secrets[subscription.id],
                body=encode_body(delivery.payload, settings),
                attempts=delivery.attempts,
                created_at=delivery.created_at,
                event_at=_timestamp(delivery.payload),
            )
        )
    return claimed


def signing_secrets(
    subscription: m.WebhookSubscription, keyring: Keyring, now: datetime
) -> list[str]:
    found = [keyring.open(subscription.secret_enc, secret_context(subscription.id))]
    if (
        subscription.previous_secret_enc
        and subscription.previous_secret_until is not None
        and subscription.previous_secret_until > now
    ):
        found.append(
            keyring.open(subscription.previous_secret_enc, previous_secret_context(subscription.id))
        )
    return found


def _timestamp(payload: dict[str, Any]) -> datetime | None:
    raw = payload.get("timestamp")
    try:
        return datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


async def attempt(client: httpx.AsyncClient, claimed: Claimed, settings: Settings) -> Result:
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    try:
        target = await guard.resolve(claimed.url, settings)
        headers = signing.headers(
            claimed.secrets, claimed.message_id, int(time.time()), claimed.body
        )
        headers["host"] = target.host_header
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
        request = client.build_request(
            "POST", target.url, content=claimed.body, headers=headers, extensions=extensions
        )
        response = await client.send(request, stream=True)
        status_code = response.status_code
        try:  # read a little of the body so the connection can be reused, never more
            received = 0
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received > MAX_RESPONSE_BYTES:
                    break
        finally:
            await response.aclose()
        if not 200 <= status_code < 300:
            error = (
                f"redirection non suivie ({status_code})"
                if 300 <= status_code < 400
                else f"réponse HTTP {status_code}"
            )
    except guard.UnsafeURL as exc:
        error = f"adresse refusée : {exc}"
    except httpx.TimeoutException:
        error = "délai dépassé"
    except httpx.HTTPError as exc:
        error = f"erreur réseau ({type(exc).__name__})"
    duration = int((time.perf_counter() - started) * 1000)
    return Result(claimed, status_code, error, duration)


async def record(
    session: AsyncSession, settings: Settings, results: list[Result]
) -> list[uuid.UUID]:
    """Write the attempts to the log and schedule retries; returns subscriptions disabled now."""
    now = utcnow()
    window = timedelta(hours=settings.webhook_retry_hours)
    disabled: list[uuid.UUID] = []
    updates: list[dict[str, Any]] = []
    for result in results:
        claimed = result.claimed
        session.add(
            m.WebhookAttempt(
                delivery_id=claimed.id,
                subscription_id=claimed.subscription_id,
                attempted_at=now,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
            )
        )
        values: dict[str, Any] = {
            "b_id": claimed.id,
            "b_code": result.status_code,
            "b_error": result.error,
            "b_status": "pending",
            "b_delivered_at": None,
            "b_next": now,
        }
        if result.ok:
            values |= {"b_status": "delivered", "b_delivered_at": now}
            DELIVERIES.labels("delivered").inc()
            if claimed.event_at is not None:
                DELIVERY_DELAY.observe(max((now - claimed.event_at).total_seconds(), 0.0))
        elif now - claimed.created_at >= window:
            values |= {"b_status": "failed"}
            DELIVERIES.labels("given_up").inc()
        else:
            values |= {"b_next": now + timedelta(seconds=backoff(settings, claimed.attempts))}
            DELIVERIES.labels("failed").inc()
        updates.append(values)
    if updates:  # one executemany for the whole batch
        table = cast(sa.Table, m.WebhookDelivery.__table__)
        await session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"), table.c.status == "pending")
            .values(
                status=sa.bindparam("b_status"),
                delivered_at=sa.bindparam("b_delivered_at"),
                next_attempt_at=sa.bindparam("b_next"),
                last_status_code=sa.bindparam("b_code"),
                last_error=sa.bindparam("b_error"),
            ),
            updates,
        )
    by_subscription: dict[uuid.UUID, list[Result]] = {}
    for result in results:
        by_subscription.setdefault(result.claimed.subscription_id, []).append(result)
    for subscription_id, outcomes in by_subscription.items():
        subscription = await session.get(m.WebhookSubscription, subscription_id)
        if subscription is None:
            continue
        if any(r.ok for r in outcomes):
            subscription.consecutive_failures = 0
            subscription.first_failure_at = None
            continue
        subscription.consecutive_failures += len(outcomes)
        if subscription.first_failure_at is None:
            subscription.first_failure_at = now
        if (
            subscription.status == "active"
            and subscription.consecutive_failures >= settings.webhook_disable_after_failures
            and now - subscription.first_failure_at >= window
        ):
            subscription.status = "disabled"
            subscription.disabled_at = now
            subscription.disabled_reason = (
                f"{subscription.consecutive_failures} échecs consécutifs depuis "
                f"{subscription.first_failure_at:%d/%m/%Y %H:%M} UTC"
            )
            subscription.updated_at = now
            await plan_webhook_disabled(session, settings, subscription)
            disabled.append(subscription.id)
            log.warning("webhook_disabled", subscription_id=str(subscription.id))
    return disabled


async def deliver(
    db: Database,
    keyring: Keyring,
    settings: Settings,
    *,
    batch: int = 100,
    concurrency: int = 16,
    budget_seconds: float = 20.0,
    client: httpx.AsyncClient | None = None,
) -> int:
    """Deliver due messages in rounds until none is due or the time budget is spent."""
    own = client is None
    http = client or new_client(settings)
    semaphore = asyncio.Semaphore(concurrency)
    handled = 0
    deadline = time.monotonic() + budget_seconds

    async def one(item: Claimed) -> Result:
        async with semaphore:
            return await attempt(http, item, settings)

    try:
        while time.monotonic() < deadline:
            async with db.session() as session:
                claimed = await claim_due(session, keyring, settings, limit=batch)
            if not claimed:
                break
            results = list(await asyncio.gather(*(one(c) for c in claimed)))
            async with db.session() as session:
                await record(session, settings, results)
            handled += len(results)
    finally:
        if own:
            await http.aclose()
    return handled


async def ping(
    subscription: m.WebhookSubscription,
    keyring: Keyring,
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
) -> Result:
    """A signed ``ping`` sent to the subscription now, once, as every message is sent (same
    address guard, signature, timeout): the test of « tester l'envoi »."""
    now = utcnow()
    event_id = uuid.uuid4()
    message = PingMessage(
        id=event_id,
        timestamp=now,
        data=PingData(webhook_id=subscription.id, structure_id=subscription.structure_id),
    )
    claimed = Claimed(
        id=event_id,
        message_id=f"msg_ping_{event_id.hex}",
        subscription_id=subscription.id,
        url=subscription.url,
        secrets=signing_secrets(subscription, keyring, now),
        body=msgspec.json.encode(message),
        attempts=1,
        created_at=now,
        event_at=now,
    )
    http = client or new_client(settings)
    try:
        return await attempt(http, claimed, settings)
    finally:
        if client is None:
            await http.aclose()


@functools.cache
def _tls() -> ssl.SSLContext:
    """Building a TLS context loads the CA bundle (~0.1 s): once per process."""
    return httpx.create_ssl_context()


def new_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        verify=_tls(),
        follow_redirects=False,
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        trust_env=False,
    )
