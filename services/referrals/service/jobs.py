"""Worker jobs on referrals: reminders before a handoff's deadline, expiry after it, the end of a
referral whose other side did not close its part in time. Each referral is written through the
one write path, in a transaction of its own."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.kernel import throttle
from services.kernel.db import Database
from services.kernel.problems import ProblemError
from services.kernel.settings import Settings
from services.referrals.crypto import Keyring
from services.referrals.domain.lifecycle import Event
from services.referrals.domain.records import Change
from services.referrals.domain.transitions import AWAITING_ANSWER, Action, Actor, HandoffState
from services.referrals.models import FOLLOW_UP_THROTTLE
from services.referrals.service.common import Pending
from services.referrals.service.flows import ReferralService
from services.referrals.store import Queries, ReferralStore

AWAITING = [s.value for s in AWAITING_ANSWER]
# How long an Idempotency-Key is remembered (a retry after that is a new request).
IDEMPOTENCY_RETENTION = timedelta(hours=24)


async def expire_due(
    db: Database, keyring: Keyring, settings: Settings, now: datetime, limit: int = 100
) -> int:
    """Expire handoffs still waiting for an answer after their deadline."""
    async with db.session() as session:
        due = await Queries(session).due_handoffs(
            AWAITING, respond_after=None, respond_by=now, unreminded=False, limit=limit
        )
    done = 0
    for referral_id, handoff_id in due:
        try:
            async with db.session() as session:
                svc = ReferralService(session, keyring, settings)
                _, pending = await svc.transition(
                    Actor.system(), referral_id, handoff_id, Action.EXPIRE, if_match=None
                )
                await svc.save(pending)
        except ProblemError:
            continue  # answered or withdrawn meanwhile
        done += 1
    return done


async def end_closings(
    db: Database, keyring: Keyring, settings: Settings, now: datetime, limit: int = 100
) -> int:
    """End the referrals whose other side did not close its part within the closing delay."""
    async with db.session() as session:
        due = await Queries(session).closings_due(
            now - settings.referrals_closing_window, limit=limit
        )
    done = 0
    for referral_id in due:
        try:
            async with db.session() as session:
                svc = ReferralService(session, keyring, settings)
                await svc.save(await svc.end_closing(referral_id))
        except ProblemError:
            continue  # closed or withdrawn meanwhile
        done += 1
    return done


async def remind_due(
    db: Database, keyring: Keyring, settings: Settings, now: datetime, limit: int = 100
) -> int:
    """Remind receivers of handoffs whose deadline is near (once per handoff)."""
    lead = timedelta(days=settings.referrals_reminder_days)
    async with db.session() as session:
        due = await Queries(session).due_handoffs(
            AWAITING, respond_after=now, respond_by=now + lead, unreminded=True, limit=limit
        )
    done = 0
    for referral_id, handoff_id in due:
        async with db.session() as session:
            svc = ReferralService(session, keyring, settings)
            actor = Actor.system()
            before = await svc.take(referral_id, actor, now)
            handoff = before.handoff(handoff_id)
            if (
                handoff is None
                or handoff.reminded_at is not None
                or HandoffState(handoff.state) not in AWAITING_ANSWER
            ):
                continue  # answered or reminded meanwhile
            change = Change(
                now=now,
                status=before.referral.status,
                handoffs={handoff.id: {"reminded_at": now}},
                expected={handoff.id: handoff.version},
            )
            after = before.apply(change)
            svc.record(
                after,
                change,
                Event("handoff.reminder", handoff_id=handoff.id),
                actor,
                data={"respond_by": handoff.respond_by.isoformat()},
            )
            await svc.save(Pending(before, change, after))
        done += 1
    return done


async def forget_idempotency_keys(db: Database, now: datetime) -> int:
    """Forget the stored answers older than ``IDEMPOTENCY_RETENTION``; returns how many went."""
    async with db.session() as session:
        return await ReferralStore(session).forget_idempotency(now - IDEMPOTENCY_RETENTION)


async def forget_follow_up_counters(db: Database, settings: Settings, now: datetime) -> int:
    """Forget the follow-up request counters past their window; returns how many went."""
    window = timedelta(seconds=settings.referrals_follow_up_lockout_seconds)
    async with db.session() as session:
        return await throttle.forget(session, FOLLOW_UP_THROTTLE, now - window)
