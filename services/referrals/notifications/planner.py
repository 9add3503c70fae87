"""Who gets which mail, decided when an event is fanned out of the outbox.

- New handoff (``handoff.sent``) and reminder before its deadline (``handoff.reminder``): the
  receiving structure's inbox address (from the directory, looked up when sending) and its
  members who chose immediate mail.
- Declined (with the reason), expired, taken over — what the sender must act on: the referent
  (a staff member: the address recorded in their preferences, by default told of these three)
  and the inboxes of the structure that recorded the referral and of the one that sent this
  handoff. A referral recorded by an API client has no staff referent: its structure's inbox
  is told, and its software through the structure's webhooks (``webhooks.delivery``).
- The partner closed its part (``handoff.closed`` by the receiver): the referent (by default)
  and the inbox of the structure that recorded the referral, who close their own part before
  the referral ends by itself.
- Acknowledged, accepted: the referent, if they asked for these too (``referent_events``).
- A webhook disabled after repeated failure: the structure's inbox and its admins.
- Members who chose the daily digest get ``digest.py``'s summary instead of single mails.

Mails carry a referral reference and a link, never the person's data or free-text comments.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.settings import Settings
from services.referrals import models as m
from services.referrals.domain.vocabulary import DECLINE_REASON_LABELS
from services.referrals.notifications.render import (
    integrations_link,
    reference,
    referral_link,
    render,
)

STRUCTURE_INBOX = "structure:"  # to_address placeholder resolved through the directory

DECLINE_REASONS: dict[str, str] = {str(k): v for k, v in DECLINE_REASON_LABELS.items()}

UPDATES: dict[str, tuple[str, str | None]] = {
    "handoff.acknowledged": ("{partner} en a accusé réception", None),
    "handoff.accepted": ("{partner} l'a acceptée", None),
    "handoff.declined": (
        "{partner} l'a refusée",
        "Vous pouvez réorienter la personne vers un autre partenaire.",
    ),
    "handoff.taken_over": (
        "{partner} a pris la personne en charge",
        "Pensez à clôturer l'orientation en indiquant son issue.",
    ),
    "handoff.expired": (
        "{partner} n'a pas répondu avant l'échéance ; la transmission a expiré",
        "Vous pouvez réorienter la personne vers un autre partenaire.",
    ),
    "handoff.closed": (
        "{partner} a clôturé sa part de l'orientation",
        "Clôturez la vôtre en indiquant son issue et votre évaluation : sans cela, "
        "l'orientation se terminera d'elle-même dans {closing_days} jours.",
    ),
}


def queue(
    session: AsyncSession,
    *,
    kind: str,
    to: str,
    subject: str,
    template: str,
    referral_id: uuid.UUID | None,
    **context: Any,
) -> None:
    text, html = render(template, subject=subject, **context)
    session.add(
        m.MailMessage(
            id=uuid.uuid4(),
            kind=kind,
            to_address=to,
            subject=subject,
            text_body=text,
            html_body=html,
            referral_id=referral_id,
            status="pending",
            attempts=0,
        )
    )


async def members(
    session: AsyncSession, structure_id: uuid.UUID, *, mode: str, admins_only: bool = False
) -> list[str]:
    query = sa.select(m.NotificationPreference.email).where(
        m.NotificationPreference.structure_id == structure_id,
        m.NotificationPreference.mode == mode,
    )
    if admins_only:
        query = query.where(m.NotificationPreference.is_admin.is_(True))
    return sorted(set((await session.scalars(query)).all()))


MAILED_TYPES = frozenset({"handoff.sent", "handoff.reminder", *UPDATES})
# What the sending side must act on: the structures' inboxes and, by default, the referent.
LOOP_EVENTS = ("handoff.declined", "handoff.expired", "handoff.taken_over")
# What the recording structure must close on its side.
CLOSING_EVENT = "handoff.closed"
DEFAULT_REFERENT_EVENTS = tuple(sorted((*LOOP_EVENTS, CLOSING_EVENT)))


def referent_events(preference: m.NotificationPreference) -> tuple[str, ...]:
    """The updates this person wants on the referrals they follow."""
    if preference.referent_events is None:
        return DEFAULT_REFERENT_EVENTS
    return tuple(preference.referent_events)


@dataclass
class Preloaded:
    """Preferences of the structures a batch of events touches (one query, not one per event)."""

    preferences: dict[uuid.UUID, list[m.NotificationPreference]] = field(default_factory=dict)
    # Held here: the session's identity map keeps only weak references.
    referrals: dict[uuid.UUID, m.Referral] = field(default_factory=dict)
    handoffs: dict[uuid.UUID, m.Handoff] = field(default_factory=dict)

    def members(self, structure_id: uuid.UUID, mode: str) -> list[str]:
        rows = self.preferences.get(structure_id, [])
        return sorted({p.email for p in rows if p.mode == mode})

    def preference(self, subject: str, structure_id: uuid.UUID) -> m.NotificationPreference | None:
        rows = self.preferences.get(structure_id, [])
        return next((p for p in rows if p.subject == subject), None)


async def preload(session: AsyncSession, events: list[m.TimelineEvent]) -> Preloaded:
    """Load, for a batch of events, the referrals, handoffs and preferences mails need."""
    wanted = [e for e in events if e.type in MAILED_TYPES and e.handoff_id is not None]
    if not wanted:
        return Preloaded()
    referrals = (
        await session.scalars(
            sa.select(m.Referral).where(m.Referral.id.in_({e.referral_id for e in wanted}))
        )
    ).all()
    handoffs = (
        await session.scalars(
            sa.select(m.Handoff).where(m.Handoff.id.in_({e.handoff_id for e in wanted}))
        )
    ).all()
    structures = {r.structure_id for r in referrals} | {h.to_structure_id for h in handoffs}
    found = Preloaded(referrals={r.id: r for r in referrals}, handoffs={h.id: h for h in handoffs})
    rows = await session.scalars(
        sa.select(m.NotificationPreference).where(
            m.NotificationPreference.structure_id.in_(structures)
        )
    )
    for row in rows.all():
        found.preferences.setdefault(row.structure_id, []).append(row)
    return found


async def plan_mails(
    session: AsyncSession,
    settings: Settings,
    event: m.TimelineEvent,
    preloaded: Preloaded | None = None,
) -> None:
    if event.handoff_id is None or event.type not in MAILED_TYPES:
        return
    if preloaded is not None:
        handoff = preloaded.handoffs.get(event.handoff_id)
        referral = preloaded.referrals.get(event.referral_id)
    else:
        handoff = await session.get(m.Handoff, event.handoff_id)
        referral = await session.get(m.Referral, event.referral_id)
    if handoff is None or referral is None or referral.erased_at is not None:
        return
    ref = reference(referral.id)
    link = referral_link(settings.base_url, referral.id)
    respond_by = f"{handoff.respond_by:%d/%m/%Y}"
    if event.type in ("handoff.sent", "handoff.reminder"):
        sent = event.type == "handoff.sent"
        to = [f"{STRUCTURE_INBOX}{handoff.to_structure_id}"]
        to += (
            preloaded.members(handoff.to_structure_id, "immediate")
            if preloaded is not None
            else await members(session, handoff.to_structure_id, mode="immediate")
        )
        subject = f"Nouvelle orientation reçue ({ref})" if sent else f"Rappel : orientation {ref}"
        for address in to:
            queue(
                session,
                kind="handoff_received" if sent else "reminder",
                to=address,
                subject=subject,
                template="handoff_received" if sent else "reminder",
                referral_id=referral.id,
                reference=ref,
                link=link,
                respond_by=respond_by,
                structure_name=handoff.to_structure_name,
            )
        return
    if event.type == CLOSING_EVENT and event.actor_structure_id != handoff.to_structure_id:
        return  # the recording structure closed first: it is not told of its own closing
    headline, next_step = UPDATES[event.type]
    referent = referral.referent_subject  # a referent given as free text has no account to mail
    preference = (
        (
            preloaded.preference(referent, referral.structure_id)
            if preloaded is not None
            else await session.get(m.NotificationPreference, (referent, referral.structure_id))
        )
        if referent is not None
        else None
    )
    recipients: list[str] = []
    if preference is not None and event.type in referent_events(preference):
        recipients.append(preference.email)
    if event.type in LOOP_EVENTS:
        senders = dict.fromkeys((referral.structure_id, handoff.from_structure_id))
        recipients += [f"{STRUCTURE_INBOX}{structure_id}" for structure_id in senders]
    if event.type == CLOSING_EVENT:
        recipients.append(f"{STRUCTURE_INBOX}{referral.structure_id}")
    reason = DECLINE_REASONS.get(event.reason or "") if event.type == "handoff.declined" else None
    for address in recipients:
        queue(
            session,
            kind=event.type.replace(".", "_"),
            to=address,
            subject=f"Orientation {ref} : {headline.format(partner=handoff.to_structure_name)}",
            template="handoff_update",
            referral_id=referral.id,
            reference=ref,
            link=link,
            headline=headline.format(partner=handoff.to_structure_name),
            reason=reason,
            next_step=next_step.format(closing_days=settings.referrals_closing_days)
            if next_step
            else None,
        )


async def plan_webhook_disabled(
    session: AsyncSession, settings: Settings, subscription: m.WebhookSubscription
) -> None:
    to = [f"{STRUCTURE_INBOX}{subscription.structure_id}"]
    to += await members(session, subscription.structure_id, mode="immediate", admins_only=True)
    to += await members(session, subscription.structure_id, mode="digest", admins_only=True)
    link = integrations_link(settings.base_url)
    for address in sorted(set(to)):
        queue(
            session,
            kind="webhook_disabled",
            to=address,
            subject="Webhook désactivé après des échecs répétés",
            template="webhook_disabled",
            referral_id=None,
            url=subscription.url,
            structure_name="votre structure",
            reason=subscription.disabled_reason or "échecs répétés",
            link=link,
        )
