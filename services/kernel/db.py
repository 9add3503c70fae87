"""Async SQLAlchemy engine and sessions, one per service.

Embedded mode: one SQLite file per service under RELAIS_HOME. PostgreSQL mode: one schema per
service, selected through the connection's ``search_path`` so models and raw SQL stay
schema-agnostic and a service cannot see another's tables by accident.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

from services.kernel.settings import Settings


class JSONType(TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(sa.JSON())


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps on both backends (SQLite stores naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        # SQLite keeps the wall time only: store every instant in UTC (read back as UTC).
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def sync_url(url: str) -> str:
    """Normalise a user-given PostgreSQL URL to the asyncpg driver."""
    for prefix in (
        "postgres://",
        "postgresql://",
        "postgresql+psycopg://",
        "postgresql+psycopg2://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def application_name(schema: str) -> str:
    """``application_name`` of a service's PostgreSQL sessions (at most 63 bytes)."""
    return f"relais-{schema}"[:63]


class Database:
    """Engine + session factory of one service."""

    def __init__(self, settings: Settings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.schema = settings.schema_for(service)
        if settings.embedded:
            settings.home.mkdir(parents=True, exist_ok=True)
            self.url = f"sqlite+aiosqlite:///{settings.home / (service + '.db')}"
            self.engine = create_async_engine(
                self.url,
                echo=settings.database_echo,
                json_serializer=_json_encode,
                json_deserializer=msgspec.json.decode,
            )
            _tune_sqlite(self.engine)
        else:
            self.url = sync_url(settings.database_url)
            self.engine = create_async_engine(
                self.url,
                echo=settings.database_echo,
                # JSON(B) columns through msgspec: several times faster than the json module
                # on list pages, and it knows datetimes and UUIDs.
                json_serializer=_json_encode,
                json_deserializer=msgspec.json.decode,
                pool_size=settings.database_pool_size,
                max_overflow=settings.database_max_overflow,
                pool_pre_ping=settings.database_pool_pre_ping,
                pool_recycle=settings.database_pool_recycle_seconds,
                connect_args={
                    "server_settings": {
                        "search_path": f"{self.schema},public",
                        # Names the service's sessions in pg_stat_activity (ops, and the
                        # referrals feed's commit-order horizon).
                        "application_name": application_name(self.schema),
                    }
                },
            )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads that need no transaction (one statement, or tolerant of each statement seeing
        # its own snapshot): no BEGIN/COMMIT round trips on PostgreSQL.
        self.autocommit_sessionmaker = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection of a PostgreSQL session, inside the session's transaction (for
    COPY and other bulk operations SQLAlchemy does not expose)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy begins lazily, on the first statement: make it begin now.
        await connection.exec_driver_sql("SELECT 1")
    return driver


def _json_encode(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def new_uuid() -> uuid.UUID:
    """UUIDv7: time-ordered, so keyset pagination by id follows creation order."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
