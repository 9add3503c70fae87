"""Shaping answers from a snapshot: what one structure may see of a referral, as its ``View``
(``domain.visibility``) decides, with the personal categories each answer actually shows (what
the access log records)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

from services.referrals.domain.consent import ALL_CATEGORIES, Category, filter_person
from services.referrals.domain.lifecycle import referral_actions
from services.referrals.domain.records import (
    AttachmentRecord,
    EventRecord,
    HandoffRecord,
    ReferralRecord,
    Snapshot,
)
from services.referrals.domain.transitions import (
    AWAITING_ANSWER,
    OPEN_STATES,
    Actor,
    HandoffState,
    Parties,
    Side,
    allowed_actions,
)
from services.referrals.domain.visibility import View
from services.referrals.schemas import (
    AttachmentRead,
    ConsentRead,
    HandoffRead,
    NeedRead,
    OutcomeRead,
    PersonRead,
    ReferralRead,
    TimelineEventRead,
)
from services.referrals.service.common import (
    Base,
    attachment_context,
    evaluation_context,
    event_comment_context,
    handoff_comment_context,
    second_evaluation_context,
    summary_context,
)

Shown = frozenset[Category]
NOTHING: Shown = frozenset()

_SIDE_NAMES: dict[str, Literal["referent", "partner"]] = {
    Side.ORIGIN.value: "referent",
    Side.RECEIVER.value: "partner",
}


def closing_ends_at(svc: Base, referral: ReferralRecord) -> datetime | None:
    """When a referral one side has closed ends by itself (None: no closing under way)."""
    if not referral.closing or referral.closed_at is None:
        return None
    return referral.closed_at + svc.settings.referrals_closing_window


def handoff_read(
    svc: Base,
    snapshot: Snapshot,
    handoff: HandoffRecord,
    actor: Actor,
    now: datetime,
    seen: View | None,
) -> HandoffRead:
    """A handoff as ``actor`` sees it; its comment only under ``seen``'s consent (None: lists,
    which never carry comments)."""
    referral = snapshot.referral
    state = HandoffState(handoff.state)
    parties = Parties(referral.structure_id, handoff.from_structure_id, handoff.to_structure_id)
    actions: list[str] = []
    if referral.status not in ("closed", "withdrawn"):
        actions = [
            a.value
            for a in allowed_actions(
                state, actor, parties, onward_relay_allowed=referral.onward_relay_allowed
            )
        ]
    return HandoffRead(
        id=handoff.id,
        referral_id=handoff.referral_id,
        position=handoff.position,
        from_structure_id=handoff.from_structure_id,
        to_structure_id=handoff.to_structure_id,
        to_service_id=handoff.to_service_id,
        to_structure_name=handoff.to_structure_name,
        to_service_name=handoff.to_service_name,
        state=handoff.state,
        version=handoff.version,
        respond_by=handoff.respond_by,
        overdue=state in AWAITING_ANSWER and handoff.respond_by <= now,
        reminded_at=handoff.reminded_at,
        decline_reason=handoff.decline_reason,  # type: ignore[arg-type]
        cancel_reason=handoff.cancel_reason,
        comment=(
            svc.open_text(
                snapshot.referral, handoff.comment_enc, handoff_comment_context(handoff.id)
            )
            if seen is not None and seen.comments
            else None
        ),
        relayed_to_id=handoff.relayed_to_id,
        created_at=handoff.created_at,
        updated_at=handoff.updated_at,
        allowed_actions=actions,
    )


def handoff_shown(read: HandoffRead) -> Shown:
    return frozenset({Category.SITUATION}) if read.comment else NOTHING


def consent_status(snapshot: Snapshot, now: datetime) -> Literal["active", "expired", "withdrawn"]:
    ref = snapshot.referral
    if ref.consent_withdrawn_at is not None:
        return "withdrawn"
    if ref.consent_expires_at is not None and ref.consent_expires_at <= now:
        return "expired"
    return "active"


def attachment_read(
    svc: Base, referral: ReferralRecord, attachment: AttachmentRecord
) -> AttachmentRead:
    return AttachmentRead(
        id=attachment.id,
        content_type=attachment.content_type,
        size=attachment.size,
        filename=svc.open_text(
            referral, attachment.filename_enc, attachment_context(attachment.id)
        ),
        created_at=attachment.created_at,
        erased=attachment.erased_at is not None,
    )


def _outcome_read(
    svc: Base,
    ref: ReferralRecord,
    part: tuple[str | None, int | None, str | None, datetime | None],
    context: str,
    side: Literal["referent", "partner"] | None,
    *,
    comments: bool,
) -> OutcomeRead | None:
    """One side's closing (outcome, score, sealed comment, when), its comment opened only
    where the viewer may read comments."""
    outcome, score, comment_enc, closed_at = part
    if outcome is None:
        return None
    return OutcomeRead(
        outcome=outcome,  # type: ignore[arg-type]
        evaluation_score=score,
        evaluation_comment=svc.open_text(ref, comment_enc, context) if comments else None,
        closed_at=closed_at,
        side=side,
    )


def referral_read(
    svc: Base,
    snapshot: Snapshot,
    attachments: list[AttachmentRecord],
    actor: Actor,
    now: datetime,
) -> tuple[ReferralRead, Shown]:
    """The referral as ``actor`` may see it, and the personal categories actually shown."""
    ref = snapshot.referral
    seen = snapshot.view(actor.structure_id, now)
    categories = seen.categories
    person_data = filter_person(svc.person(ref), categories) if categories else {}
    summary = (
        svc.open_text(ref, ref.summary_enc, summary_context(ref.id))
        if Category.SITUATION in categories
        else None
    )
    shown: set[Category] = (
        {c for c in categories if c is not Category.SITUATION} if person_data else set()
    )
    if summary:
        shown.add(Category.SITUATION)
    files: list[AttachmentRead] = []
    if Category.DOCUMENTS in categories:
        files = [attachment_read(svc, ref, a) for a in attachments]
        if any(f.filename for f in files):
            shown.add(Category.DOCUMENTS)
    if ref.erased_at is not None:
        level: Literal["full", "partial", "none", "erased"] = "erased"
    elif not categories:
        level = "none"
    elif categories == ALL_CATEGORIES:
        level = "full"
    else:
        level = "partial"
    outcome = _outcome_read(
        svc,
        ref,
        (ref.outcome, ref.evaluation_score, ref.evaluation_comment_enc, ref.closed_at),
        evaluation_context(ref.id),
        _SIDE_NAMES.get(ref.closed_by or ""),
        comments=seen.comments,
    )
    second_outcome = _outcome_read(
        svc,
        ref,
        (
            ref.second_outcome,
            ref.second_evaluation_score,
            ref.second_evaluation_comment_enc,
            ref.second_closed_at,
        ),
        second_evaluation_context(ref.id),
        "partner" if ref.closed_by == Side.ORIGIN else "referent",
        comments=seen.comments,
    )
    visible = [h for h in snapshot.handoffs if seen.sees_handoff(h.id)]
    current = next((h.id for h in visible if h.state in OPEN_STATES), None)
    handoffs = [handoff_read(svc, snapshot, h, actor, now, seen) for h in visible]
    if any(h.comment for h in handoffs) or any(
        part and part.evaluation_comment for part in (outcome, second_outcome)
    ):
        shown.add(Category.SITUATION)
    read = ReferralRead(
        id=ref.id,
        status=ref.status,
        structure_id=ref.structure_id,
        referent=svc.referent(ref, free_text=seen.comments),
        created_by=ref.created_by,
        created_at=ref.created_at,
        updated_at=ref.updated_at,
        version=ref.version,
        personal_data=level,
        person=msgspec.convert(person_data, PersonRead) if person_data else None,
        need=NeedRead(
            thematiques=list(ref.thematiques),
            urgency=ref.urgency,  # type: ignore[arg-type]
            channel=ref.channel,  # type: ignore[arg-type]
            age_band=ref.age_band,
            sex=ref.sex,  # type: ignore[arg-type]
            summary=summary,
        ),
        consent=ConsentRead(
            status=consent_status(snapshot, now),
            given_by=ref.consent_given_by,  # type: ignore[arg-type]
            method=ref.consent_method,  # type: ignore[arg-type]
            captured_by=ref.consent_captured_by,
            given_at=ref.consent_given_at,
            # The purpose is for those the consent lets hold the person's data.
            purpose=svc.purpose(ref) if categories else None,
            data_categories=[Category(c) for c in ref.consent_categories],
            recipients=[uuid.UUID(r) for r in ref.consent_recipients],
            further_partners=ref.consent_further_partners,
            onward_relay_allowed=ref.onward_relay_allowed,
            expires_at=ref.consent_expires_at,
            withdrawn_at=ref.consent_withdrawn_at,
        ),
        current_handoff_id=current,
        handoffs=handoffs,
        outcome=outcome,
        second_outcome=second_outcome,
        closing_ends_at=closing_ends_at(svc, ref),
        attachments=files,
        allowed_actions=referral_actions(
            snapshot.aggregate,
            actor,
            now=now,
            closing_window=svc.settings.referrals_closing_window,
        ),
    )
    return read, frozenset(shown)


def event_read(
    svc: Base, referral: ReferralRecord, position: int, event: EventRecord, seen: View
) -> TimelineEventRead:
    return TimelineEventRead(
        id=event.id,
        position=position,
        type=event.type,
        handoff_id=event.handoff_id,
        actor_kind=event.actor_kind,
        actor_subject=event.actor_subject,
        actor_structure_id=event.actor_structure_id,
        from_state=event.from_state,
        to_state=event.to_state,
        reason=event.reason,
        comment=(
            svc.open_text(referral, event.comment_enc, event_comment_context(event.id))
            if seen.comments
            else None
        ),
        occurred_at=event.occurred_at,
    )
