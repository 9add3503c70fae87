"""Jobs of the integrations layer: outbox fan-out, webhooks, mail, digest, purge."""

from __future__ import annotations

from typing import Any

from services.kernel.clock import utcnow
from services.referrals.notifications import sending
from services.referrals.webhooks import delivery


async def dispatch_outbox(app: Any) -> int:
    """Fan referral events out into webhook deliveries and mails (until the outbox is empty)."""
    total = 0
    while True:
        handled = await delivery.dispatch(app.state.db, app.state.settings)
        total += handled
        if handled == 0:
            return total


async def deliver_webhooks(app: Any) -> int:
    """Send due webhook messages, signed, in order per referral, with retries."""
    await dispatch_outbox(app)
    return await delivery.deliver(app.state.db, app.state.keyring.get(), app.state.settings)


async def send_mail(app: Any) -> int:
    return await sending.send_due(app.state.db, app.state.settings, app.state.locator)


async def send_digests(app: Any) -> int:
    return await sending.digest(app.state.db, app.state.settings, utcnow())


async def purge(app: Any) -> int:
    """Daily retention: erase what has been kept long enough (see retention.py)."""
    from services.referrals.service.retention import purge as run_purge

    report = await run_purge(
        app.state.db, app.state.keyring.get(), app.state.settings, utcnow(), dry_run=False
    )
    return report.total
