"""The mail queue's sender and the daily digest (worker jobs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa
import structlog

from services.kernel import mail
from services.kernel.clock import utcnow
from services.kernel.db import Database
from services.kernel.http import ServiceLocator
from services.kernel.observability import counter
from services.kernel.outbox import claim
from services.kernel.settings import Settings
from services.referrals import models as m
from services.referrals.domain.transitions import AWAITING_ANSWER
from services.referrals.notifications.planner import STRUCTURE_INBOX, queue
from services.referrals.notifications.render import reference, referral_link

log = structlog.get_logger("relais.referrals.mail")

MAILS = counter("relais_referral_mails_total", "Referral mails by outcome", ("outcome",))
MAX_ATTEMPTS = 10
LEASE = timedelta(minutes=2)


@dataclass
class Inbox:
    email: str | None
    name: str | None


async def structure_inbox(locator: ServiceLocator, structure_id: uuid.UUID) -> Inbox | None:
    """The structure's public inbox address from the directory; None when it has none."""
    async with locator.client("directory") as client:
        response = await client.get(f"/directory/v1/structures/{structure_id}")
    if response.status_code == 404:
        return Inbox(None, None)
    response.raise_for_status()
    body = response.json()
    email = body.get("email")
    return Inbox(email if isinstance(email, str) and "@" in email else None, body.get("name"))


async def send_due(
    db: Database, settings: Settings, locator: ServiceLocator, *, limit: int = 50
) -> int:
    """Send queued mails (leased before sending, so a crash resends at most a few); returns
    how many were handled (sent, skipped for want of an address, or rescheduled)."""
    now = utcnow()
    async with db.session() as session:
        query = (
            sa.select(m.MailMessage)
            .where(m.MailMessage.status == "pending", m.MailMessage.next_attempt_at <= now)
            .order_by(m.MailMessage.next_attempt_at)
            .limit(limit)
        )
        rows = [row[0] for row in await claim(session, query, m.MailMessage)]
        for row in rows:
            row.next_attempt_at = now + LEASE
            row.attempts += 1
        claimed = [
            (r.id, r.to_address, r.subject, r.text_body, r.html_body, r.attempts) for r in rows
        ]
    inboxes: dict[str, Inbox | None] = {}
    for mail_id, to, subject, text, html, attempts in claimed:
        values: dict[str, object]
        try:
            address = to
            if to.startswith(STRUCTURE_INBOX):
                if to not in inboxes:
                    inboxes[to] = await structure_inbox(
                        locator, uuid.UUID(to.removeprefix(STRUCTURE_INBOX))
                    )
                inbox = inboxes[to]
                address = inbox.email if inbox is not None and inbox.email else ""
            if not address:
                values = {"status": "skipped", "last_error": "aucune adresse"}
                MAILS.labels("skipped").inc()
            else:
                message_id = f"<{mail_id}@relais.invalid>"
                message = mail.build_message(
                    settings, address, subject, text, html, message_id=message_id
                )
                await mail.send(settings, message)
                values = {"status": "sent", "sent_at": utcnow(), "last_error": None}
                MAILS.labels("sent").inc()
        except (OSError, httpx.HTTPError, ValueError) as exc:
            error = type(exc).__name__
            gave_up = attempts >= MAX_ATTEMPTS
            values = {
                "status": "failed" if gave_up else "pending",
                "last_error": error,
                "next_attempt_at": utcnow() + timedelta(seconds=min(30 * 2**attempts, 3600)),
            }
            MAILS.labels("failed").inc()
            log.warning("mail_failed", error=error, attempts=attempts)
        async with db.session() as session:
            await session.execute(
                sa.update(m.MailMessage).where(m.MailMessage.id == mail_id).values(**values)
            )
    return len(claimed)


async def digest(db: Database, settings: Settings, now: datetime) -> int:
    """Once a day after REFERRALS_DIGEST_HOUR: one summary per structure to its digest readers."""
    if now.hour < settings.referrals_digest_hour:
        return 0
    day = now.date().isoformat()
    queued = 0
    async with db.session() as session:
        structures = (
            await session.scalars(
                sa.select(m.NotificationPreference.structure_id)
                .where(m.NotificationPreference.mode == "digest")
                .distinct()
            )
        ).all()
        for structure_id in structures:
            done = await session.get(m.DigestRun, (structure_id, day))
            if done is not None:
                continue
            session.add(m.DigestRun(structure_id=structure_id, day=day, sent_at=now))
            readers = sorted(
                set(
                    (
                        await session.scalars(
                            sa.select(m.NotificationPreference.email).where(
                                m.NotificationPreference.structure_id == structure_id,
                                m.NotificationPreference.mode == "digest",
                            )
                        )
                    ).all()
                )
            )
            handoffs = list(
                (
                    await session.scalars(
                        sa.select(m.Handoff)
                        .where(
                            m.Handoff.to_structure_id == structure_id,
                            sa.or_(
                                m.Handoff.state.in_(
                                    [s.value for s in AWAITING_ANSWER] + ["accepted"]
                                ),
                            ),
                        )
                        .order_by(m.Handoff.created_at)
                        .limit(500)
                    )
                ).all()
            )
            name = handoffs[0].to_structure_name if handoffs else "votre structure"

            def item(h: m.Handoff) -> dict[str, str]:
                return {
                    "reference": reference(h.referral_id),
                    "link": referral_link(settings.base_url, h.referral_id),
                    "respond_by": f"{h.respond_by:%d/%m/%Y}",
                }

            waiting = [h for h in handoffs if h.state in {s.value for s in AWAITING_ANSWER}]
            new = [item(h) for h in waiting if h.created_at >= now - timedelta(days=1)]
            overdue = [item(h) for h in waiting if h.respond_by <= now]
            awaiting = [item(h) for h in handoffs if h.state == "accepted"]
            for address in readers:
                queue(
                    session,
                    kind="digest",
                    to=address,
                    subject=f"Relais : récapitulatif du {now:%d/%m/%Y}",
                    template="digest",
                    referral_id=None,
                    day=f"{now:%d/%m/%Y}",
                    structure_name=name,
                    new=new,
                    overdue=overdue,
                    awaiting=awaiting,
                )
                queued += 1
    return queued
