"""A referral as stored, in plain values: the snapshot the store loads, the change a flow asks it
to save, and the snapshot that change leads to (responses are built from it, no reload).

Pure: no I/O. Personal values stay sealed here (``*_enc`` tokens); the service opens them with the
referral's data key. Field names are the columns' names, so the store maps rows both ways
without a table of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from services.referrals.domain import visibility
from services.referrals.domain.consent import Category, ConsentTerms
from services.referrals.domain.lifecycle import Handoff, Referral, ReferralStatus
from services.referrals.domain.transitions import OPEN_STATES, HandoffState, Side


@dataclass(frozen=True)
class HandoffRecord:
    id: uuid.UUID
    referral_id: uuid.UUID
    position: int
    from_structure_id: uuid.UUID
    to_structure_id: uuid.UUID
    to_service_id: uuid.UUID | None
    to_structure_name: str
    to_service_name: str | None
    state: str
    version: int
    respond_by: datetime
    reminded_at: datetime | None
    decline_reason: str | None
    cancel_reason: str | None
    comment_enc: str | None
    relayed_to_id: uuid.UUID | None
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ReferralRecord:
    id: uuid.UUID
    structure_id: uuid.UUID
    created_by: str
    referent_subject: str | None
    referent_enc: str | None
    status: str
    version: int
    thematiques: list[str]
    urgency: str
    channel: str
    age_band: str
    sex: str
    person_enc: str | None
    summary_enc: str | None
    consent_given_by: str
    consent_method: str
    consent_captured_by: str
    consent_given_at: datetime
    consent_purpose_enc: str | None
    consent_categories: list[str]
    consent_recipients: list[str]
    consent_further_partners: bool
    onward_relay_allowed: bool
    consent_expires_at: datetime | None
    consent_withdrawn_at: datetime | None
    outcome: str | None
    evaluation_score: int | None
    evaluation_comment_enc: str | None
    closed_at: datetime | None
    erased_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # The person's own answer once the referral is over (« oui », « en partie », « non »).
    person_feedback: str | None = None
    person_feedback_comment_enc: str | None = None
    person_feedback_at: datetime | None = None
    # Each side closes its own part: the first (``closed_by``: origin or receiver) gave the
    # outcome above, the other side's own closing follows.
    closed_by: str | None = None
    second_outcome: str | None = None
    second_evaluation_score: int | None = None
    second_evaluation_comment_enc: str | None = None
    second_closed_at: datetime | None = None
    # Its data key, wrapped (a row of its own in ``referral_keys``); None once erased.
    data_key_enc: str | None = None

    @property
    def closing(self) -> bool:
        """One side has closed its part; the referral waits for the other side's (the
        stored twin of ``lifecycle.closing``)."""
        return self.status == ReferralStatus.TAKEN_OVER and self.closed_at is not None


@dataclass(frozen=True)
class FollowUpCodeRecord:
    """A follow-up code as stored: its SHA-256 only (the code itself is given out once)."""

    code_hash: str
    referral_id: uuid.UUID
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class AttachmentRecord:
    """An attachment's description (its sealed content is read only to be downloaded)."""

    id: uuid.UUID
    referral_id: uuid.UUID
    filename_enc: str | None
    content_type: str
    size: int
    created_by: str
    created_at: datetime
    erased_at: datetime | None


@dataclass(frozen=True)
class NewAttachment:
    record: AttachmentRecord
    content: bytes


@dataclass(frozen=True)
class EventRecord:
    """One timeline entry as stored (``position`` is given by the database)."""

    id: uuid.UUID
    referral_id: uuid.UUID
    handoff_id: uuid.UUID | None
    type: str
    actor_kind: str
    actor_subject: str
    actor_structure_id: uuid.UUID | None
    from_state: str | None
    to_state: str | None
    reason: str | None
    comment_enc: str | None
    structures: list[str]
    data: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class AccessRecord:
    """One read of personal data: who, for which structure, when, which categories."""

    id: uuid.UUID
    referral_id: uuid.UUID
    actor_kind: str
    actor_subject: str
    structure_id: uuid.UUID | None
    resource: str
    categories: list[str]
    at: datetime


@dataclass(frozen=True)
class IdempotencyRecord:
    """The first answer to a request carrying an ``Idempotency-Key`` (body sealed)."""

    owner: str
    key: str
    request_hash: str
    referral_id: uuid.UUID | None
    status_code: int
    response_enc: str | None
    headers: dict[str, str]
    categories: list[str]
    created_at: datetime


@dataclass
class Change:
    """What one flow writes on one referral; the store saves it with one version check.

    ``referral``: columns set on the referral besides its status, version and ``updated_at``;
    ``handoffs``: columns set per handoff (a state change carries its new state and version),
    each checked against the version in ``expected``; ``messages``: outbox (topic, payload);
    ``erase``: the referral's personal data goes, everywhere it is kept, in the same transaction;
    ``erase_attachments``: only its attachments go.
    """

    now: datetime
    status: str
    referral: dict[str, Any] = field(default_factory=dict)
    handoffs: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    expected: dict[uuid.UUID, int] = field(default_factory=dict)
    new_handoffs: list[HandoffRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    access: list[AccessRecord] = field(default_factory=list)
    attachment: NewAttachment | None = None
    idempotency: IdempotencyRecord | None = None
    erase: bool = False
    erase_attachments: bool = False
    # A referral created by this change (then no version to check).
    created: ReferralRecord | None = None
    # A new follow-up code for the person; any earlier code of the referral stops working.
    follow_up_code: FollowUpCodeRecord | None = None


@dataclass(frozen=True)
class Snapshot:
    """A referral and its handoffs (by position), as read at one instant."""

    referral: ReferralRecord
    handoffs: tuple[HandoffRecord, ...]

    def handoff(self, handoff_id: uuid.UUID) -> HandoffRecord | None:
        return next((h for h in self.handoffs if h.id == handoff_id), None)

    @cached_property
    def aggregate(self) -> Referral:
        """The lifecycle's view: states and parties, what the transition rules decide on."""
        ref = self.referral
        return Referral(
            id=ref.id,
            origin_structure_id=ref.structure_id,
            status=ReferralStatus(ref.status),
            onward_relay_allowed=ref.onward_relay_allowed,
            closed_by=Side(ref.closed_by) if ref.closed_by else None,
            closed_at=ref.closed_at,
            second_closed=ref.second_closed_at is not None,
            handoffs=[
                Handoff(
                    id=h.id,
                    position=h.position,
                    from_structure_id=h.from_structure_id,
                    to_structure_id=h.to_structure_id,
                    state=HandoffState(h.state),
                    version=h.version,
                    was_accepted=h.state
                    in (HandoffState.ACCEPTED, HandoffState.TAKEN_OVER, HandoffState.CLOSED),
                )
                for h in self.handoffs
            ],
        )

    @cached_property
    def terms(self) -> ConsentTerms:
        ref = self.referral
        return ConsentTerms(
            categories=frozenset(Category(c) for c in ref.consent_categories),
            recipients=frozenset(uuid.UUID(r) for r in ref.consent_recipients),
            further_partners=ref.consent_further_partners,
            expires_at=ref.consent_expires_at,
            withdrawn=ref.consent_withdrawn_at is not None,
        )

    def view(self, structure_id: uuid.UUID | None, now: datetime) -> visibility.View:
        """What ``structure_id`` may see of this referral now."""
        return visibility.view(self.aggregate, self.terms, structure_id, now)

    def current(self) -> HandoffRecord | None:
        return next((h for h in self.handoffs if h.state in OPEN_STATES), None)

    def party_structures(self) -> list[str]:
        ids = {str(self.referral.structure_id)}
        for h in self.handoffs:
            ids.update((str(h.from_structure_id), str(h.to_structure_id)))
        return sorted(ids)

    def event_structures(self, handoff_id: uuid.UUID | None) -> list[str]:
        """Who may see an event: a handoff's parties and the origin, or every party."""
        handoff = self.handoff(handoff_id) if handoff_id else None
        if handoff is None:
            return self.party_structures()
        return sorted(
            {
                str(self.referral.structure_id),
                str(handoff.from_structure_id),
                str(handoff.to_structure_id),
            }
        )

    def apply(self, change: Change) -> Snapshot:
        """The snapshot once ``change`` is saved (what the store writes, in memory)."""
        if change.created is not None:
            return Snapshot(change.created, tuple(change.new_handoffs))
        referral = replace(
            self.referral,
            status=change.status,
            version=self.referral.version + 1,
            updated_at=change.now,
            **change.referral,
        )
        handoffs = tuple(
            replace(h, **change.handoffs[h.id]) if h.id in change.handoffs else h
            for h in self.handoffs
        )
        return Snapshot(referral, handoffs + tuple(change.new_handoffs))
