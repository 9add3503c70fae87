"""Background jobs of the referrals service: reminders before deadlines, expiry after them, the
end of referrals whose closing waited too long."""

from __future__ import annotations

from typing import Any

from services.kernel.clock import utcnow
from services.kernel.jobs import Job
from services.kernel.outbox import prune_job
from services.referrals import background
from services.referrals import models as m
from services.referrals.metrics import refresh_handoff_gauges
from services.referrals.service import jobs


async def remind_handoffs(app: Any) -> int:
    """Remind receivers (outbox event) of handoffs whose deadline is near."""
    state = app.state
    return await jobs.remind_due(state.db, state.keyring.get(), state.settings, utcnow())


async def expire_handoffs(app: Any) -> int:
    """Expire handoffs left unanswered after their deadline, and alert the referent."""
    state = app.state
    return await jobs.expire_due(state.db, state.keyring.get(), state.settings, utcnow())


async def end_closings(app: Any) -> int:
    """End the referrals whose other side did not close its part within the closing delay."""
    state = app.state
    return await jobs.end_closings(state.db, state.keyring.get(), state.settings, utcnow())


async def forget_idempotency_keys(app: Any) -> int:
    """Forget Idempotency-Key records past their retention (24 hours)."""
    return await jobs.forget_idempotency_keys(app.state.db, utcnow())


async def forget_follow_up_counters(app: Any) -> int:
    """Forget the person's follow-up request counters once their window has passed."""
    state = app.state
    return await jobs.forget_follow_up_counters(state.db, state.settings, utcnow())


JOBS: list[Job] = [
    Job("referrals.remind-handoffs", "referrals", 300.0, remind_handoffs),
    Job("referrals.expire-handoffs", "referrals", 300.0, expire_handoffs),
    Job("referrals.end-closings", "referrals", 3600.0, end_closings),
    Job("referrals.forget-idempotency-keys", "referrals", 3600.0, forget_idempotency_keys),
    Job("referrals.forget-follow-up-counters", "referrals", 3600.0, forget_follow_up_counters),
    Job("referrals.handoff-metrics", "referrals", 60.0, refresh_handoff_gauges),
    # Integrations: outbox fan-out, webhooks, mail, daily digest, retention.
    Job("referrals.dispatch-outbox", "referrals", 1.0, background.dispatch_outbox),
    Job("referrals.deliver-webhooks", "referrals", 1.0, background.deliver_webhooks),
    Job("referrals.send-mail", "referrals", 10.0, background.send_mail),
    Job("referrals.digest", "referrals", 600.0, background.send_digests),
    Job("referrals.purge", "referrals", 86_400.0, background.purge),
    Job("referrals.prune-outbox", "referrals", 3600.0, prune_job(m.OutboxEvent)),
]
