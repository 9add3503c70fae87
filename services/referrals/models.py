"""SQLAlchemy models of the referrals service (its own metadata, schema and migrations).

Personal data lives only in the ``*_enc`` columns (AES-GCM, see ``crypto.py``) and in attachment
contents; everything else is what statistics and the timeline may keep after erasure.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.db import JSONType, UTCDateTime, new_uuid
from services.kernel.outbox import OutboxMixin, utcnow


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
    referent: Mapped[str] = mapped_column(sa.String(255), index=True)
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
    consent_purpose: Mapped[str] = mapped_column(sa.String(500))
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
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
    past them (commit order, issue #7). ``structures`` lists who may see the event.
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
    key_id: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
