"""Tables of the web service (its own metadata, schema and migrations): server-side sessions
and the referral forms being filled in (drafts, bound to the session that started them).

The browser holds only a random session key (cookie); its SHA-256 digest finds the row. The
tokens auth issued for the person are sealed (AES-GCM, ``services.web.crypto``) and never leave
the server.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.clock import utcnow
from services.kernel.db import JSONType, UTCDateTime, new_uuid


class Base(DeclarativeBase):
    pass


class WebSession(Base):
    """A signed-in person in one browser: who, for which structure, and their tokens."""

    __tablename__ = "web_sessions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    csrf: Mapped[str] = mapped_column(sa.String(64))
    account_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    email: Mapped[str] = mapped_column(sa.String(320), default="")
    is_moderator: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    structure_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    roles: Mapped[list[str]] = mapped_column(JSONType(), default=list)
    # [{"structure_id", "role", "name"}] — the structures the person may switch to.
    memberships: Mapped[list[dict[str, Any]]] = mapped_column(JSONType(), default=list)
    access_token: Mapped[str] = mapped_column(sa.Text)
    refresh_token: Mapped[str] = mapped_column(sa.Text)
    id_token: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set while one request renews the tokens: the others keep the current (still valid) one.
    refreshing_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PendingSignIn(Base):
    """A sign-in started here and not yet back from auth: PKCE verifier, nonce, where to go."""

    __tablename__ = "web_pending_sign_ins"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    state_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    code_verifier: Mapped[str] = mapped_column(sa.String(200))
    nonce: Mapped[str] = mapped_column(sa.String(100))
    next_path: Mapped[str] = mapped_column(sa.String(2000), default="/")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ReferralDraft(Base):
    """A referral being filled in, step by step, before « Envoyer ».

    What the person typed is sealed (``values``, AES-GCM bound to the draft's id): personal data
    never travels in URLs or hidden fields. ``idempotency_key`` is sent with the creation, so a
    double click or a reload of « Envoyer » gets the first referral back. Once sent, ``values``
    is emptied and only ``referral_id`` stays (to answer a second « Envoyer »). Ends with its
    session (cascade) or after a day (purge).
    """

    __tablename__ = "web_referral_drafts"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    session_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("web_sessions.id", ondelete="CASCADE"), index=True
    )
    structure_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    idempotency_key: Mapped[str] = mapped_column(sa.String(64))
    values: Mapped[str] = mapped_column(sa.Text, default="")
    referral_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DraftDocument(Base):
    """A document joined to a draft (sealed), sent once the referral exists."""

    __tablename__ = "web_draft_documents"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    draft_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("web_referral_drafts.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(sa.Text)
    content_type: Mapped[str] = mapped_column(sa.String(50))
    size: Mapped[int] = mapped_column(sa.Integer)
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sent: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
