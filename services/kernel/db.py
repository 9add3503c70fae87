"""Async SQLAlchemy engine and sessions, one per service.

Embedded mode: one SQLite file per service under RELAIS_HOME. PostgreSQL mode: one schema per
service, selected through the connection's ``search_path`` so models and raw SQL stay
schema-agnostic and a service cannot see another's tables by accident.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
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
    """Engine + session factory of one service. Bound values never reach the logs (personal
    data): the engines hide them from echo and from their errors' text."""

    def __init__(
        self,
        settings: Settings,
        service: str,
        *,
        server_settings: Mapping[str, str] | None = None,
    ) -> None:
        """``server_settings``: PostgreSQL settings of every connection of this service (e.g.
        its planner's), beside the schema and the application name."""
        self.settings = settings
        self.service = service
        self.schema = settings.schema_for(service)
        if settings.embedded:
            settings.home.mkdir(parents=True, exist_ok=True)
            self.url = f"sqlite+aiosqlite:///{settings.home / (service + '.db')}"
            self.engine = create_async_engine(
                self.url,
                echo=settings.database_echo,
                hide_parameters=True,
                json_serializer=_json_encode,
                json_deserializer=msgspec.json.decode,
                pool_reset_on_return=None,  # _tune_sqlite's reset: only what is left open
            )
            _tune_sqlite(self.engine)
        else:
            self.url = sync_url(settings.database_url)
            self.engine = create_async_engine(
                self.url,
                echo=settings.database_echo,
                hide_parameters=True,
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
                        **(server_settings or {}),
                    }
                },
            )
            _heal_on_checkout(self.engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads that need no transaction (one statement, or tolerant of each statement seeing
        # its own snapshot): no BEGIN/COMMIT round trips on PostgreSQL. SQLite's driver begins
        # no transaction for a read, and switching its isolation level there and back costs
        # more than the read (measured: 0.87 ms against 0.46 ms for a read by primary key).
        self.read_sessionmaker = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.is_postgres
            else self.engine,
            expire_on_commit=False,
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


# After this many rows written by one transaction, refresh the table's planner statistics
# (PostgreSQL; ANALYZE counts the transaction's own new rows). Statistics taken on an empty
# table say "empty": the planner then takes any index with a matching column, e.g. a full scan
# of ix_services_updated (updated_at, id) for each foreign-key check of a zone row (measured:
# ~120 zone rows/s at 100k services), or a scan of search_documents for each chunk an import
# re-indexes (44 s at 100k services) instead of the primary or unique key.
ANALYZE_AFTER = 1000


class TableStatistics:
    """Keeps the planner statistics of the tables a long transaction (an import) fills: ANALYZE
    a table as soon as ``ANALYZE_AFTER`` rows were written to it, and at ``refresh`` the tables
    that grew since. One per session (``table_statistics``), shared by whoever writes."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.written: dict[str, int] = {}
        self.analyzed: dict[str, int] = {}

    async def wrote(self, table: str, count: int) -> None:
        before = self.written.get(table, 0)
        self.written[table] = before + count
        if before < ANALYZE_AFTER <= before + count:
            await analyze(self.session, [table])
            self.analyzed[table] = before + count

    async def refresh(self) -> None:
        grown = [
            table
            for table, count in self.written.items()
            if count >= ANALYZE_AFTER and self.analyzed.get(table) != count
        ]
        await analyze(self.session, grown)
        self.written.clear()
        self.analyzed.clear()


def table_statistics(session: AsyncSession) -> TableStatistics:
    if "table_statistics" not in session.info:
        session.info["table_statistics"] = TableStatistics(session)
    statistics: TableStatistics = session.info["table_statistics"]
    return statistics


async def analyze(session: AsyncSession, tables: Iterable[str]) -> None:
    """Fresh planner statistics for these tables (PostgreSQL only; a role that does not own a
    table gets a warning from PostgreSQL, not an error)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in tables:
        await session.execute(sa.text(f'ANALYZE "{name}"'))


def _json_encode(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _heal_on_checkout(engine: AsyncEngine) -> None:
    """A pooled connection the server has closed (restart, failover, terminated backend) is never
    handed out: asyncpg already knows it is closed, which costs no round trip to ask. Finding one
    means the others went in the same outage, so the whole pool is renewed at once
    (``InvalidatePoolError``: every connection older than now is replaced at its next checkout)
    and the caller gets a fresh connection instead of a failure, now or 90 s later."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_conn.driver_connection.is_closed():
            raise sa.exc.InvalidatePoolError("connection closed by the server")


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Deleted content is overwritten (Debian's default, not every build's): an erased
        # referral's data key does not linger in the file once the WAL is checkpointed.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_conn: Any, record: Any, state: Any) -> None:
        # The pool would roll back every connection it gets back: a trip to the driver's thread
        # per transaction, for nothing once the session committed or rolled back. Only a
        # transaction still open is rolled back.
        if state.asyncio_safe and record.driver_connection.in_transaction:
            dbapi_conn.rollback()


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
