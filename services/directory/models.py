"""SQLAlchemy models of the directory service (its own metadata, schema and migrations).

Field names follow data·inclusion v1 semantics in English; list-valued taxonomy fields
(thematiques, publics…) are JSON arrays of data·inclusion slugs. Eligibility zones live in their
own table so "which services cover this commune" is an indexed lookup.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.kernel.clock import utcnow
from services.kernel.db import JSONType, UTCDateTime, new_uuid
from services.kernel.outbox import OutboxMixin

STATUSES = ("draft", "published", "suspended", "archived")
CAPACITY_STATUSES = ("accepting", "waiting_list", "full")


class Base(DeclarativeBase):
    pass


class OutboxEvent(OutboxMixin, Base):
    pass


class AddressMixin:
    """A postal address with its INSEE commune and coordinates (WGS 84).

    ``latitude``/``longitude`` are the entry's own (typed by its maintainers or given by its
    source). ``geocoded_*`` are written only by the geocoder's job (``geocoding``): the position
    it found for the current address (none when it found nothing good enough) and when it
    answered; a write that changes the address clears all three (``domain.positions``)."""

    address: Mapped[str | None] = mapped_column(sa.String(500))
    address_complement: Mapped[str | None] = mapped_column(sa.String(500))
    postal_code: Mapped[str | None] = mapped_column(sa.String(5))
    commune_code: Mapped[str | None] = mapped_column(sa.String(5), index=True)
    commune: Mapped[str | None] = mapped_column(sa.String(200))
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    geocoded_latitude: Mapped[float | None] = mapped_column(sa.Float)
    geocoded_longitude: Mapped[float | None] = mapped_column(sa.Float)
    geocoded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrackedMixin:
    """Source identity, lifecycle, freshness and optimistic-concurrency version."""

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    source: Mapped[str | None] = mapped_column(sa.String(100))
    source_id: Mapped[str | None] = mapped_column(sa.String(200))
    source_url: Mapped[str | None] = mapped_column(sa.String(2083))
    status: Mapped[str] = mapped_column(sa.String(20), default="draft", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed with the id by each table ((updated_at, id): the `updated_since` keyset order).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The last explicit confirmation that the entry is right (POST …/verify).
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the content was last known right (freshness, see domain/freshness.py): the last edit
    # or confirmation by a person here, or the source's own date for an imported entry.
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(sa.String(200))
    updated_by: Mapped[str | None] = mapped_column(sa.String(200))
    version: Mapped[int] = mapped_column(sa.Integer, default=1)


class Structure(TrackedMixin, AddressMixin, Base):
    __tablename__ = "structures"
    __table_args__ = (
        sa.UniqueConstraint("source", "source_id", name="uq_structures_source"),
        sa.Index("ix_structures_updated", "updated_at", "id"),
    )

    name: Mapped[str] = mapped_column(sa.String(300))
    siret: Mapped[str | None] = mapped_column(sa.String(14), index=True)
    typology: Mapped[str | None] = mapped_column(sa.String(100))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("structures.id", ondelete="SET NULL"), index=True
    )
    networks: Mapped[list[str]] = mapped_column(JSONType(), default=list)
    labels: Mapped[list[str]] = mapped_column(JSONType(), default=list)
    description: Mapped[str | None] = mapped_column(sa.Text)
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    website: Mapped[str | None] = mapped_column(sa.String(2083))
    opening_hours: Mapped[str | None] = mapped_column(sa.String(1000))
    accessibility_url: Mapped[str | None] = mapped_column(sa.String(2083))
    accepts_referrals: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    services: Mapped[list[Service]] = relationship(back_populates="structure", lazy="raise")
    places: Mapped[list[Place]] = relationship(back_populates="structure", lazy="raise")


class Service(TrackedMixin, AddressMixin, Base):
    __tablename__ = "services"
    __table_args__ = (
        sa.UniqueConstraint("source", "source_id", name="uq_services_source"),
        sa.Index("ix_services_updated", "updated_at", "id"),
        # ``thematiques ?| :values`` (list filter, exports) on PostgreSQL (a plain, unused index
        # on SQLite).
        sa.Index("ix_services_thematiques", "thematiques", postgresql_using="gin"),
    )

    structure_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("structures.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    type: Mapped[str | None] = mapped_column(sa.String(50))
    thematiques: Mapped[list[str]] = mapped_column(JSONType(), default=list)
    publics: Mapped[list[str]] = mapped_column(JSONType(), default=list)
    publics_details: Mapped[str | None] = mapped_column(sa.Text)
    fees: Mapped[str | None] = mapped_column(sa.String(20))
    fees_details: Mapped[str | None] = mapped_column(sa.Text)
    access_conditions: Mapped[str | None] = mapped_column(sa.Text)
    documents_to_bring: Mapped[list[str]] = mapped_column(JSONType(), default=list)
    reception_modes: Mapped[list[str]] = mapped_column(JSONType(), default=list)
    # Appointment: None = unknown, True = only by appointment, False = walk-in possible.
    appointment_required: Mapped[bool | None] = mapped_column(sa.Boolean)
    appointment_url: Mapped[str | None] = mapped_column(sa.String(2083))
    appointment_slots: Mapped[list[dict[str, Any]]] = mapped_column(JSONType(), default=list)
    # How to refer (data·inclusion modes_mobilisation / mobilisable_par / lien_mobilisation…).
    referral_modes: Mapped[list[str]] = mapped_column(JSONType(), default=list)
    referable_by: Mapped[list[str]] = mapped_column(JSONType(), default=list)
    referral_url: Mapped[str | None] = mapped_column(sa.String(2083))
    referral_phone: Mapped[str | None] = mapped_column(sa.String(20))
    referral_email: Mapped[str | None] = mapped_column(sa.String(320))
    referral_details: Mapped[str | None] = mapped_column(sa.Text)
    accepts_referrals: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    referral_response_days: Mapped[int | None] = mapped_column(sa.Integer)
    opening_hours: Mapped[str | None] = mapped_column(sa.String(1000))
    weekly_hours: Mapped[float | None] = mapped_column(sa.Float)
    duration_weeks: Mapped[int | None] = mapped_column(sa.Integer)
    capacity_status: Mapped[str] = mapped_column(sa.String(20), default="accepting", index=True)
    capacity_until: Mapped[date | None] = mapped_column(sa.Date)
    # When a person last stated the capacity (set or confirmed it, or verified the service).
    capacity_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_name: Mapped[str | None] = mapped_column(sa.String(300))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(20))
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    contact_public: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    structure: Mapped[Structure] = relationship(back_populates="services", lazy="raise")
    zones: Mapped[list[ServiceZone]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ServiceZone.zone"
    )
    sessions: Mapped[list[ServiceSession]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ServiceSession.id"
    )


class ServiceZone(Base):
    """One eligibility zone of a service: commune:<insee>, epci:<siren>, departement:<code>,
    region:<code> or france (see services.kernel.reference.geography)."""

    __tablename__ = "service_zones"

    service_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    zone: Mapped[str] = mapped_column(sa.String(32), primary_key=True, index=True)


class Place(TrackedMixin, AddressMixin, Base):
    """A reception point of a structure (HSDS location): a site, a permanence room, a bus stop."""

    __tablename__ = "places"
    __table_args__ = (sa.Index("ix_places_updated", "updated_at", "id"),)

    structure_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("structures.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    opening_hours: Mapped[str | None] = mapped_column(sa.String(1000))
    accessibility_url: Mapped[str | None] = mapped_column(sa.String(2083))

    structure: Mapped[Structure] = relationship(back_populates="places", lazy="raise")


class ServiceSession(Base):
    """Where and when a service is held at a place (itinerant services: several rows)."""

    __tablename__ = "service_sessions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    service_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    place_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("places.id", ondelete="CASCADE"), index=True
    )
    opening_hours: Mapped[str | None] = mapped_column(sa.String(1000))
    note: Mapped[str | None] = mapped_column(sa.String(500))


class LinkCheck(Base):
    """Last known state of a URL found in an entry (website, referral link, booking link)."""

    __tablename__ = "link_checks"
    __table_args__ = (
        sa.UniqueConstraint("entity_id", "field", name="uq_link_checks_entity_field"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    entity_type: Mapped[str] = mapped_column(sa.String(20))
    entity_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    field: Mapped[str] = mapped_column(sa.String(50))
    url: Mapped[str] = mapped_column(sa.String(2083))
    last_status: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.String(200))
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    # First failure of the current run of failures (None while the link works).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dead: Mapped[bool] = mapped_column(sa.Boolean, default=False, index=True)


class HistoryEntry(Base):
    """Who changed what and when, for every directory entry (append-only)."""

    __tablename__ = "history"
    __table_args__ = (sa.Index("ix_history_entity", "entity_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_uuid)
    entity_type: Mapped[str] = mapped_column(sa.String(20))
    entity_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    action: Mapped[str] = mapped_column(sa.String(30))
    actor: Mapped[str | None] = mapped_column(sa.String(200))
    actor_structure_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType(), default=dict)
