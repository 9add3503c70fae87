"""msgspec Structs: the public contract of the referrals API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from services.referrals.domain.consent import Category
from services.referrals.domain.followup import FEEDBACK_COMMENT_MAX, Feedback, Stage
from services.referrals.domain.lifecycle import ReferralAction
from services.referrals.domain.vocabulary import (
    CancelReason,
    Channel,
    ConsentGivenBy,
    ConsentMethod,
    ContactMethod,
    DeclineReason,
    Outcome,
    Sex,
    Urgency,
)

Name = Annotated[str, Meta(min_length=1, max_length=100)]
ShortText = Annotated[str, Meta(min_length=1, max_length=500)]
Comment = Annotated[str, Meta(min_length=1, max_length=2000)]
Slug = Annotated[str, Meta(min_length=1, max_length=100)]
Subject = Annotated[str, Meta(min_length=1, max_length=255)]
AgeBandCode = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9_]{1,20}$",
        description="une tranche de REFERRALS_AGE_BANDS (par défaut under_18, 18_25, 26_44, "
        "45_59, 60_74, 75_plus) ou unknown",
    ),
]


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class PersonIn(_In):
    """The person, minimal: every field optional except a name or a pseudonym."""

    first_name: Name | None = None
    last_name: Name | None = None
    pseudonym: Name | None = None
    birth_year: Annotated[int, Meta(ge=1900, le=2100)] | None = None
    birth_date: date | None = None
    contact_method: ContactMethod | None = None
    phone: Annotated[str, Meta(min_length=3, max_length=30)] | None = None
    email: Annotated[str, Meta(min_length=3, max_length=254)] | None = None
    postal_address: ShortText | None = None
    preferred_language: Annotated[str, Meta(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] | None = (
        None
    )
    accessibility_needs: Annotated[str, Meta(min_length=1, max_length=1000)] | None = None


class PersonRead(msgspec.Struct, kw_only=True, omit_defaults=True):
    first_name: str | None = None
    last_name: str | None = None
    pseudonym: str | None = None
    birth_year: int | None = None
    birth_date: date | None = None
    contact_method: ContactMethod | None = None
    phone: str | None = None
    email: str | None = None
    postal_address: str | None = None
    preferred_language: str | None = None
    accessibility_needs: str | None = None


class NeedIn(_In):
    thematiques: Annotated[list[Slug], Meta(min_length=1, max_length=20)]
    channel: Channel
    summary: Annotated[str, Meta(min_length=1, max_length=5000)] | None = None
    urgency: Urgency = Urgency.NORMAL
    age_band: AgeBandCode = "unknown"
    sex: Sex = Sex.UNKNOWN


class NeedRead(msgspec.Struct, kw_only=True):
    thematiques: list[str]
    urgency: Urgency
    channel: Channel
    age_band: str
    sex: Sex
    summary: str | None = None


class ConsentIn(_In):
    """The person's consent, as recorded by the staff member."""

    given_by: ConsentGivenBy
    method: ConsentMethod
    purpose: ShortText
    data_categories: Annotated[list[Category], Meta(max_length=4)]
    given_at: datetime | None = None
    recipients: Annotated[list[uuid.UUID], Meta(max_length=50)] = []
    further_partners: bool = False
    onward_relay_allowed: bool = False
    expires_at: datetime | None = None


class ConsentRead(msgspec.Struct, kw_only=True):
    status: Literal["active", "expired", "withdrawn"]
    given_by: ConsentGivenBy
    method: ConsentMethod
    captured_by: str
    given_at: datetime
    # Shown to the structures the consent lets hold the person's data.
    purpose: str | None
    data_categories: list[Category]
    recipients: list[uuid.UUID]
    further_partners: bool
    onward_relay_allowed: bool
    expires_at: datetime | None
    withdrawn_at: datetime | None


class TargetIn(_In):
    structure_id: uuid.UUID
    service_id: uuid.UUID | None = None


class ReferralCreate(_In):
    person: PersonIn
    need: NeedIn
    consent: ConsentIn
    target: TargetIn
    # A staff account's subject (UUID), kept as a reference; anything else is free text,
    # encrypted. Default: the caller's own account.
    referent: Subject | None = None


class HandoffRead(msgspec.Struct, kw_only=True):
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
    overdue: bool
    reminded_at: datetime | None
    decline_reason: DeclineReason | None
    cancel_reason: str | None
    comment: str | None
    relayed_to_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[str]


class OutcomeRead(msgspec.Struct, kw_only=True):
    """One side's closing: its outcome and evaluation of its own part."""

    outcome: Outcome
    evaluation_score: int | None
    evaluation_comment: str | None
    closed_at: datetime | None
    # Which side closed: the referent's structure (origin) or the partner that took over.
    side: Literal["referent", "partner"] | None = None


class AttachmentRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    content_type: str
    size: int
    filename: str | None
    created_at: datetime
    erased: bool


class ReferralRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    status: str
    structure_id: uuid.UUID
    # The referent's account; free text only under the consent's situation category.
    referent: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int
    personal_data: Literal["full", "partial", "none", "erased"]
    person: PersonRead | None
    need: NeedRead
    consent: ConsentRead
    current_handoff_id: uuid.UUID | None
    handoffs: list[HandoffRead]
    outcome: OutcomeRead | None
    # The other side's own closing: the referral ends with it.
    second_outcome: OutcomeRead | None = None
    # Once one side has closed its part: when the referral ends if the other side has not
    # closed its own by then (REFERRALS_CLOSING_DAYS after the first closing).
    closing_ends_at: datetime | None = None
    attachments: list[AttachmentRead]
    # What the caller may do on the referral now (reorient, close, change_referent,
    # withdraw_consent); the transitions of each handoff are in its own allowed_actions.
    allowed_actions: list[ReferralAction] = []
    # The person's follow-up code: only in the answer to the referral's creation (it is stored
    # as a hash and cannot be read again; a new one can be issued).
    follow_up_code: str | None = None


class TransitionIn(_In):
    comment: Comment | None = None


class DeclineIn(_In):
    reason: DeclineReason
    comment: Comment


class CancelIn(_In):
    reason: CancelReason
    comment: Comment | None = None


class RelayIn(_In):
    target: TargetIn
    comment: Comment | None = None


class ReorientIn(_In):
    """A new handoff after a decline, cancellation or expiry."""

    target: TargetIn
    # The person agreed that this partner receives the consented data too.
    add_recipient: bool = False
    comment: Comment | None = None


class CloseIn(_In):
    outcome: Outcome
    evaluation_score: Annotated[int, Meta(ge=1, le=5)] | None = None
    evaluation_comment: Comment | None = None


class ReferentIn(_In):
    """A staff account's subject (UUID), kept as a reference; anything else is free text,
    encrypted."""

    referent: Subject


class WithdrawIn(_In):
    given_by: ConsentGivenBy = ConsentGivenBy.PERSON
    method: ConsentMethod = ConsentMethod.ORAL


class TimelineEventRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    position: int
    type: str
    handoff_id: uuid.UUID | None
    actor_kind: str
    actor_subject: str
    actor_structure_id: uuid.UUID | None
    from_state: str | None
    to_state: str | None
    reason: str | None
    comment: str | None
    occurred_at: datetime


class AccessLogRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    referral_id: uuid.UUID
    actor_kind: str
    actor_subject: str
    structure_id: uuid.UUID | None
    resource: str
    categories: list[str]
    at: datetime


class BoxCount(msgspec.Struct, kw_only=True):
    """How many handoffs of a box match the filters."""

    count: int


class BoxItem(msgspec.Struct, kw_only=True):
    """A handoff in a structure's inbox or outbox, with the referral's non-personal facts."""

    referral_id: uuid.UUID
    referral_status: str
    origin_structure_id: uuid.UUID
    referent: str | None
    thematiques: list[str]
    urgency: Urgency
    channel: Channel
    handoff: HandoffRead
    # One side has closed its part: when the referral ends if the other has not closed its own.
    closing_ends_at: datetime | None = None


# ---- The person's follow-up (public, by code) ------------------------------------------------


class FollowUpCodeRead(msgspec.Struct, kw_only=True):
    """A new follow-up code, shown once: give it to the person (link, SMS, printed receipt)."""

    referral_id: uuid.UUID
    code: str
    valid_until: datetime | None = None  # None while the referral is open


class PublicStructure(msgspec.Struct, kw_only=True):
    """A structure as the directory publishes it: its name and public phone."""

    name: str
    phone: str | None = None


class FollowUpRead(msgspec.Struct, kw_only=True):
    """What the person may see of their request: no names of staff, no comments, nothing
    they did not give."""

    stage: Stage
    holder: PublicStructure | None
    referent_structure: PublicStructure | None
    since: datetime
    respond_by: datetime | None
    taken_over: bool
    ended_at: datetime | None
    valid_until: datetime | None
    can_withdraw: bool
    can_give_feedback: bool
    feedback: Feedback | None
    # The partners the request was sent to: told, with the sending structure, of a withdrawal.
    partners: list[str] = []


class FeedbackIn(_In):
    answer: Feedback
    comment: Annotated[str, Meta(min_length=1, max_length=FEEDBACK_COMMENT_MAX)] | None = None
