"""SQLAlchemy models of the auth service (its own metadata, schema and migrations)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from services.kernel.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class OutboxEvent(OutboxMixin, Base):
    pass
