"""Retention (``relais purge`` and a daily job) and data-subject access exports.

- Referrals that ended (closed, or whose handoffs all ended declined, cancelled, expired or
  relayed with no open one left): their personal data is erased once their last event is older
  than REFERRALS_RETENTION_MONTHS (24). Their attachments go earlier, after
  REFERRALS_ATTACHMENT_RETENTION_MONTHS (6).
- Referrals still open with no activity for REFERRALS_INACTIVE_MONTHS (24) are anonymised the
  same way.
- Erasure reuses the consent-withdrawal path: encrypted fields, comments, attachments, stored
  idempotent responses, pending outbox and webhook payloads. A ``referral.erased`` event is added
  to the timeline. Statistics fields stay.
- ``dry_run`` reports what would go and changes nothing.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.db import Database
from services.kernel.settings import Settings
from services.referrals import models as m
from services.referrals.crypto import Keyring
from services.referrals.domain.consent import Category, filter_person
from services.referrals.domain.lifecycle import Event
from services.referrals.domain.transitions import OPEN_STATES, Actor
from services.referrals.domain.visibility import View
from services.referrals.service import (
    Loaded,
    ReferralService,
    attachment_context,
    evaluation_context,
    event_comment_context,
    handoff_comment_context,
    summary_context,
)

BATCH = 200


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


def _last_activity() -> Any:
    return (
        sa.select(
            m.TimelineEvent.referral_id.label("referral_id"),
            sa.func.max(m.TimelineEvent.occurred_at).label("last_at"),
        )
        .group_by(m.TimelineEvent.referral_id)
        .subquery()
    )


def _has_open_handoff() -> Any:
    return sa.exists(
        sa.select(m.Handoff.id).where(
            m.Handoff.referral_id == m.Referral.id,
            m.Handoff.state.in_([s.value for s in OPEN_STATES]),
        )
    )


def _ended() -> Any:
    return sa.or_(
        m.Referral.status == "closed",
        sa.and_(m.Referral.status == "in_progress", sa.not_(_has_open_handoff())),
    )


async def _candidates(session: AsyncSession, condition: Any, before: datetime) -> list[uuid.UUID]:
    last = _last_activity()
    rows = await session.scalars(
        sa.select(m.Referral.id)
        .join(last, last.c.referral_id == m.Referral.id)
        .where(m.Referral.erased_at.is_(None), condition, last.c.last_at < before)
        .order_by(m.Referral.id)
    )
    return list(rows.all())


async def _attachment_candidates(session: AsyncSession, before: datetime) -> list[uuid.UUID]:
    last = _last_activity()
    rows = await session.scalars(
        sa.select(m.Attachment.id)
        .join(m.Referral, m.Referral.id == m.Attachment.referral_id)
        .join(last, last.c.referral_id == m.Referral.id)
        .where(m.Attachment.erased_at.is_(None), _ended(), last.c.last_at < before)
    )
    return list(rows.all())


async def erase(
    session: AsyncSession, keyring: Keyring, settings: Settings, referral_id: uuid.UUID, reason: str
) -> None:
    svc = ReferralService(session, keyring, settings)
    loaded = await svc.lock(referral_id)
    now = datetime.now(loaded.referral.updated_at.tzinfo)
    await session.execute(
        sa.update(m.Referral)
        .where(m.Referral.id == referral_id)
        .values(person_enc=None, summary_enc=None, evaluation_comment_enc=None, erased_at=now)
        .execution_options(synchronize_session=False)
    )
    await svc.erase_personal_data(referral_id, now)
    svc.record(loaded, Event("referral.erased", reason=reason), Actor.system())
    await svc.flush()


async def purge(
    db: Database, keyring: Keyring, settings: Settings, now: datetime, *, dry_run: bool
) -> PurgeReport:
    report = PurgeReport(dry_run=dry_run)
    async with db.session() as session:
        ended = await _candidates(
            session, _ended(), now - months(settings.referrals_retention_months)
        )
        inactive = await _candidates(
            session,
            sa.and_(sa.not_(_ended()), m.Referral.status != "withdrawn"),
            now - months(settings.referrals_inactive_months),
        )
        files = await _attachment_candidates(
            session, now - months(settings.referrals_attachment_retention_months)
        )
    report.erased, report.anonymised, report.attachments = ended, inactive, len(files)
    if dry_run:
        return report
    for reason, ids in (("retention", ended), ("inactive", inactive)):
        for start in range(0, len(ids), BATCH):
            async with db.session() as session:
                for referral_id in ids[start : start + BATCH]:
                    await erase(session, keyring, settings, referral_id, reason)
    for start in range(0, len(files), BATCH):
        async with db.session() as session:
            await session.execute(
                sa.update(m.Attachment)
                .where(m.Attachment.id.in_(files[start : start + BATCH]))
                .values(content=None, filename_enc=None, key_id=None, erased_at=now)
                .execution_options(synchronize_session=False)
            )
    return report


# ---- data-subject access ---------------------------------------------------------------------


class SubjectAccessExport(msgspec.Struct, kw_only=True):
    """Everything Relais holds about the person of one referral (right of access, RGPD art. 15)."""

    exported_at: datetime
    referral: dict[str, Any]
    handoffs: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    access_log: list[dict[str, Any]]


def _columns(row: Any, skip: set[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.key in skip or column.key.endswith("_enc"):
            continue
        data[column.key] = getattr(row, column.key)
    return data


async def subject_access(
    svc: ReferralService, loaded: Loaded, seen: View, now: datetime
) -> SubjectAccessExport:
    """The person's file as ``seen`` allows: whole for the origin structure (which holds the
    relation with the person), never more than its consent-filtered view for a receiver."""
    ref = loaded.referral
    referral_id = ref.id
    categories = seen.categories
    referral = _columns(ref, set())
    person = filter_person(svc.decrypt_person(ref), categories) if categories else {}
    referral["person"] = person or None
    referral["summary"] = (
        svc.open_text(ref.summary_enc, summary_context(ref.id))
        if Category.SITUATION in categories
        else None
    )
    referral["evaluation_comment"] = (
        svc.open_text(ref.evaluation_comment_enc, evaluation_context(ref.id))
        if seen.comments
        else None
    )
    handoffs = []
    for h in loaded.handoffs:
        if not seen.sees_handoff(h.id):
            continue
        item = _columns(h, set())
        item["comment"] = (
            svc.open_text(h.comment_enc, handoff_comment_context(h.id)) if seen.comments else None
        )
        handoffs.append(item)
    events = (
        await svc.session.scalars(
            sa.select(m.TimelineEvent)
            .where(m.TimelineEvent.referral_id == referral_id)
            .order_by(m.TimelineEvent.position)
        )
    ).all()
    timeline = []
    for e in events:
        if not seen.sees_event(e.structures):
            continue
        item = _columns(e, {"txid"})
        item["comment"] = (
            svc.open_text(e.comment_enc, event_comment_context(e.id)) if seen.comments else None
        )
        timeline.append(item)
    files = []
    if Category.DOCUMENTS in categories:
        for a in await svc.attachments(referral_id):
            item = _columns(a, {"content", "key_id"})
            item["filename"] = svc.open_text(a.filename_enc, attachment_context(a.id))
            item["content_base64"] = (
                base64.b64encode(
                    svc.keyring.open_bytes(a.key_id, a.content, attachment_context(a.id))
                ).decode()
                if a.content is not None and a.key_id is not None
                else None
            )
            files.append(item)
    log_rows: list[m.AccessLogEntry] = []
    if seen.origin:  # who read the file is the origin's record, as on the access-log route
        log_rows = list(
            (
                await svc.session.scalars(
                    sa.select(m.AccessLogEntry)
                    .where(m.AccessLogEntry.referral_id == referral_id)
                    .order_by(m.AccessLogEntry.at)
                )
            ).all()
        )
    return SubjectAccessExport(
        exported_at=now,
        referral=referral,
        handoffs=handoffs,
        timeline=timeline,
        attachments=files,
        access_log=[_columns(r, set()) for r in log_rows],
    )
