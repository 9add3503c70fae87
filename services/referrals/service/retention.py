"""Retention (``relais purge`` and a daily job).

- Referrals that ended (closed, or whose handoffs all ended declined, cancelled, expired or
  relayed with no open one left): their personal data is erased once their last event is older
  than REFERRALS_RETENTION_MONTHS (24). Their attachments go earlier, after
  REFERRALS_ATTACHMENT_RETENTION_MONTHS (6).
- Referrals still open with no activity for REFERRALS_INACTIVE_MONTHS (24) are anonymised the
  same way.
- Erasure is the consent withdrawal's, through the referral's one write path: sealed fields,
  comments, attachments, stored idempotent answers, pending outbox and webhook payloads. A
  ``referral.erased`` event is added to the timeline. Statistics fields stay.
- ``dry_run`` reports what would go and changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from services.kernel.db import Database
from services.kernel.settings import Settings
from services.referrals.crypto import Keyring
from services.referrals.domain.lifecycle import Event
from services.referrals.domain.records import Change
from services.referrals.domain.transitions import OPEN_STATES, Actor
from services.referrals.service.common import Base, Pending
from services.referrals.service.flows import erase
from services.referrals.store import Queries

BATCH = 200
OPEN = [s.value for s in OPEN_STATES]


@dataclass
class PurgeReport:
    erased: list[uuid.UUID] = field(default_factory=list)
    anonymised: list[uuid.UUID] = field(default_factory=list)
    attachments: int = 0
    dry_run: bool = False

    @property
    def total(self) -> int:
        return len(self.erased) + len(self.anonymised) + self.attachments


def months(count: int) -> timedelta:
    return timedelta(days=round(count * 30.44))


async def erase_referral(svc: Base, referral_id: uuid.UUID, reason: str, now: datetime) -> None:
    """Erase the referral's personal data, recording why (``retention``, ``inactive``)."""
    actor = Actor.system()
    before = await svc.take(referral_id, actor, now)
    change = Change(now=now, status=before.referral.status)
    pending = Pending(before, change, before.apply(change))
    erase(pending, now)
    svc.record(pending.after, change, Event("referral.erased", reason=reason), actor)
    await svc.save(pending)


async def erase_attachments(svc: Base, referral_id: uuid.UUID, now: datetime) -> None:
    before = await svc.take(referral_id, Actor.system(), now)
    change = Change(now=now, status=before.referral.status, erase_attachments=True)
    await svc.save(Pending(before, change, before.apply(change)))


async def purge(
    db: Database, keyring: Keyring, settings: Settings, now: datetime, *, dry_run: bool
) -> PurgeReport:
    report = PurgeReport(dry_run=dry_run)
    async with db.session() as session:
        queries = Queries(session)
        ended = await queries.quiet_since(
            now - months(settings.referrals_retention_months), ended=True, open_states=OPEN
        )
        inactive = await queries.quiet_since(
            now - months(settings.referrals_inactive_months), ended=False, open_states=OPEN
        )
        files = await queries.ended_attachments(
            now - months(settings.referrals_attachment_retention_months), open_states=OPEN
        )
    report.erased, report.anonymised, report.attachments = ended, inactive, len(files)
    if dry_run:
        return report
    for reason, ids in (("retention", ended), ("inactive", inactive)):
        for start in range(0, len(ids), BATCH):
            async with db.session() as session:
                svc = Base(session, keyring, settings)
                for referral_id in ids[start : start + BATCH]:
                    await erase_referral(svc, referral_id, reason, now)
    gone = set(ended)
    holders = [rid for rid, _ in groupby(files, key=lambda f: f[0]) if rid not in gone]
    for start in range(0, len(holders), BATCH):
        async with db.session() as session:
            svc = Base(session, keyring, settings)
            for referral_id in holders[start : start + BATCH]:
                await erase_attachments(svc, referral_id, now)
    return report
