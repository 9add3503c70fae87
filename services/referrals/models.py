"""SQLAlchemy models of the referrals service (its own metadata, schema and migrations).

Personal data lives only in the ``*_enc`` columns and in attachment contents, sealed with the
referral's own data key (``referral_keys``, wrapped by the keyring; see ``crypto.py``);
everything else is what statistics and the timeline may keep after erasure.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.clock import utcnow
from services.kernel.db import JSONType, UTCDateTime, new_uuid
from services.kernel.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class OutboxEvent(OutboxMixin, Base):
    pass


class Referral(Base):
    """One person's request travelling through the network."""

    __tablename__ = "referrals"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    structure_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    # The follow-up's referent: a staff account (its subject) or, when none is named, free text
    # (encrypted: staff write names and roles there).
    referent_subject: Mapped[str | None] = mapped_column(sa.String(255), nullable=True, index=True)
    referent_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    # The need, kept for statistics even after erasure.
    thematiques: Mapped[list[str]] = mapped_column(JSONType())
    urgency: Mapped[str] = mapped_column(sa.String(20))
    channel: Mapped[str] = mapped_column(sa.String(20))
    age_band: Mapped[str] = mapped_column(sa.String(20))
    sex: Mapped[str] = mapped_column(sa.String(20))
    # Personal data (encrypted JSON of the person's fields, encrypted summary).
    person_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    summary_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    # The consent record.
    consent_given_by: Mapped[str] = mapped_column(sa.String(30))
    consent_method: Mapped[str] = mapped_column(sa.String(20))
    consent_captured_by: Mapped[str] = mapped_column(sa.String(255))
    consent_given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_purpose_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    consent_categories: Mapped[list[str]] = mapped_column(JSONType())
    consent_recipients: Mapped[list[str]] = mapped_column(JSONType())
    consent_further_partners: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    onward_relay_allowed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    consent_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consent_withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The end of the story.
    outcome: Mapped[str | None] = mapped_column(sa.String(30), nullable=True)
    evaluation_score: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    evaluation_comment_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Each side closes its own part: ``closed_by`` (origin or receiver) closed first and gave
    # the outcome above; the other side's own closing and evaluation follow.
    closed_by: Mapped[str | None] = mapped_column(sa.String(10), nullable=True)
    second_outcome: Mapped[str | None] = mapped_column(sa.String(30), nullable=True)
    second_evaluation_score: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    second_evaluation_comment_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    second_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The person's answer on their follow-up page once it is over (kept for statistics); the
    # comment is theirs, sealed and erased like the rest.
    person_feedback: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)
    person_feedback_comment_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    person_feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FollowUpCode(Base):
    """The person's follow-up codes, by their SHA-256 (never the code). One works at a time:
    issuing a new one revokes the others."""

    __tablename__ = "follow_up_codes"

    code_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FollowUpThrottle(Base):
    """Requests counted per follow-up code and misses per address (see ``kernel.throttle``)."""

    __tablename__ = "follow_up_throttle"

    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReferralKey(Base):
    """A referral's data key, wrapped by the keyring; its row is deleted on erasure
    (crypto-shredding). Kept apart from the rows holding the values it seals, so no copy of those
    rows carries the key."""

    __tablename__ = "referral_keys"

    referral_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True
    )
    wrapped: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferralThematique(Base):
    """One thematique of a referral (a row each, for filters and statistics on both backends)."""

    __tablename__ = "referral_thematiques"

    referral_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True
    )
    thematique: Mapped[str] = mapped_column(sa.String(100), primary_key=True, index=True)


class Handoff(Base):
    """One relay of a referral from a sending structure to a receiving structure."""

    __tablename__ = "handoffs"
    __table_args__ = (sa.UniqueConstraint("referral_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    referral_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer)
    from_structure_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    to_structure_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    to_service_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    to_structure_name: Mapped[str] = mapped_column(sa.String(300))
    to_service_name: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    state: Mapped[str] = mapped_column(sa.String(20), index=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decline_reason: Mapped[str | None] = mapped_column(sa.String(30), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(30), nullable=True)
    comment_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    relayed_to_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TimelineEvent(Base):
    """Append-only timeline: who did what, when, from which state to which, and why.

    ``position`` is the insertion order; on PostgreSQL ``txid`` records the writing transaction
    (``pg_current_xact_id()``) so a feed can wait for older transactions before moving its cursor
    past them (commit order). ``structures`` lists who may see the event.
    """

    __tablename__ = "events"

    position: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, unique=True, default=new_uuid)
    referral_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    handoff_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    type: Mapped[str] = mapped_column(sa.String(50), index=True)
    actor_kind: Mapped[str] = mapped_column(sa.String(10))
    actor_subject: Mapped[str] = mapped_column(sa.String(255))
    actor_structure_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    from_state: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)
    to_state: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)
    reason: Mapped[str | None] = mapped_column(sa.String(30), nullable=True)
    comment_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    structures: Mapped[list[str]] = mapped_column(JSONType())
    data: Mapped[dict[str, Any]] = mapped_column(JSONType(), default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    txid: Mapped[int | None] = mapped_column(
        sa.BigInteger, nullable=True, server_default=sa.FetchedValue()
    )


class AccessLogEntry(Base):
    """Every read of a referral's personal data: who, for which structure, when, what."""

    __tablename__ = "access_log"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    referral_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    actor_kind: Mapped[str] = mapped_column(sa.String(10))
    actor_subject: Mapped[str] = mapped_column(sa.String(255))
    structure_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    resource: Mapped[str] = mapped_column(sa.String(20))
    categories: Mapped[list[str]] = mapped_column(JSONType())
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    referral_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    filename_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.Integer)
    content: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotencyRecord(Base):
    """The first response to a POST carrying an ``Idempotency-Key`` (body encrypted)."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    referral_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True, index=True)
    status_code: Mapped[int] = mapped_column(sa.Integer)
    response_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    headers: Mapped[dict[str, str]] = mapped_column(JSONType(), default=dict)
    # Personal-data categories the response shows (a replay checks the consent still covers them).
    categories: Mapped[list[str]] = mapped_column(JSONType(), default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# ---- Webhooks and notifications (tables of the integrations layer) -------------------------


class WebhookSubscription(Base):
    """A structure's webhook endpoint: URL, event types, signing secret(s) (encrypted)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    structure_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSONType())  # empty: every type
    description: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    secret_enc: Mapped[str] = mapped_column(sa.Text)
    previous_secret_enc: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="active", index=True)
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One message to one subscription; retried until delivered or given up (at least once)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_order", "subscription_id", "referral_id", "seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    message_id: Mapped[str] = mapped_column(sa.String(80), index=True)  # webhook-id
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    referral_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True, index=True)
    event_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    event_type: Mapped[str] = mapped_column(sa.String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType())
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    replay_of: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class WebhookAttempt(Base):
    """The delivery log: every HTTP attempt, its status code or error, and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    duration_ms: Mapped[int] = mapped_column(sa.Integer, default=0)


class NotificationPreference(Base):
    """Where and how a staff member wants referral mail: at once, a daily digest, or none."""

    __tablename__ = "notification_preferences"

    subject: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    structure_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320))
    mode: Mapped[str] = mapped_column(sa.String(20), default="immediate")
    # Updates on the referrals this person follows as referent (event types); None: the
    # defaults (refusal, expiry, takeover).
    referent_events: Mapped[list[str] | None] = mapped_column(JSONType(), nullable=True)
    is_admin: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailMessage(Base):
    """Outgoing mail, rendered when queued (no personal data: a reference and a link)."""

    __tablename__ = "mail_queue"
    __table_args__ = (sa.Index("ix_mail_queue_due", "status", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    kind: Mapped[str] = mapped_column(sa.String(40))
    to_address: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(300))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text)
    referral_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True, index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DigestRun(Base):
    """The last daily digest sent to a structure (one per day at most)."""

    __tablename__ = "digest_runs"

    structure_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    day: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The tables as Core sees them, for the store's statements (``__table__`` is typed as a
# FromClause).
REFERRALS = cast(sa.Table, Referral.__table__)
REFERRAL_KEYS = cast(sa.Table, ReferralKey.__table__)
THEMATIQUES = cast(sa.Table, ReferralThematique.__table__)
HANDOFFS = cast(sa.Table, Handoff.__table__)
EVENTS = cast(sa.Table, TimelineEvent.__table__)
OUTBOX = cast(sa.Table, OutboxEvent.__table__)
ACCESS_LOG = cast(sa.Table, AccessLogEntry.__table__)
IDEMPOTENCY = cast(sa.Table, IdempotencyRecord.__table__)
ATTACHMENTS = cast(sa.Table, Attachment.__table__)
WEBHOOK_DELIVERIES = cast(sa.Table, WebhookDelivery.__table__)
FOLLOW_UP_CODES = cast(sa.Table, FollowUpCode.__table__)
FOLLOW_UP_THROTTLE = cast(sa.Table, FollowUpThrottle.__table__)
