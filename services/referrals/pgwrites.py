"""PostgreSQL: a referral read in one statement, and everything a request changes written in one.

Optimistic concurrency for the request path: the referral and its handoffs are read without a
lock (one SELECT), the pure domain plans on that state, and the whole change — the referral's
version compare-and-set, handoff updates, new rows, timeline events, outbox messages, access
log, idempotency record — is one statement of data-modifying CTEs, all or nothing, committed on
its own (no BEGIN/COMMIT round trips). Every writer of a referral bumps its version (here or
through the locking path of ``service.py``), so a matching version proves the plan was made on
the current state; otherwise nothing is written and the caller plans again on a fresh read.

Statements go through the session's asyncpg connection (SQLAlchemy's per-statement machinery
cost more CPU than the database work on this path), with the JSON codecs SQLAlchemy installed
on it: JSON parameters travel as JSON text, JSON results come back decoded. A statement's shape
depends on which parts a request has, not on its values: rows travel as arrays through
``unnest``, so asyncpg's cache of prepared statements holds a handful of shapes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, cast

import asyncpg
import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from services.kernel.db import JSONType
from services.referrals import models as m

REFERRALS = cast(sa.Table, m.Referral.__table__)
HANDOFFS = cast(sa.Table, m.Handoff.__table__)
ATTACHMENTS = cast(sa.Table, m.Attachment.__table__)
IDEMPOTENCY = cast(sa.Table, m.IdempotencyRecord.__table__)
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


class StaleWrite(Exception):
    """The referral changed between the read and the write: nothing was written."""


class DuplicateIdempotencyKey(Exception):
    """Another request stored a response under the same Idempotency-Key first."""


@dataclass
class HandoffChange:
    handoff_id: uuid.UUID
    expected_version: int
    values: dict[str, Any]


@dataclass
class Guard:
    """The referral's version when it was read, and what the write sets on it."""

    referral_id: uuid.UUID
    read_version: int
    values: dict[str, Any]


@dataclass
class WriteSet:
    """What one request writes. ``inserts`` keeps table order (parents before children)."""

    guard: Guard | None = None
    handoff_changes: list[HandoffChange] = field(default_factory=list)
    inserts: dict[sa.Table, list[dict[str, Any]]] = field(default_factory=dict)

    def insert(self, table: sa.Table, row: dict[str, Any]) -> None:
        self.inserts.setdefault(table, []).append(row)

    def __bool__(self) -> bool:
        return bool(self.guard or self.handoff_changes or self.inserts)


@cache
def _cast(column: sa.Column[Any]) -> str:
    return str(column.type.compile(dialect=_DIALECT))


def _is_json(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, JSONType)


def _json(value: Any) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()


class _Statement:
    """Positional parameters with their casts (asyncpg infers nothing from a bare ``$n``)."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def param(self, column: sa.Column[Any], value: Any) -> str:
        self.args.append(_json(value) if _is_json(column) else value)
        return f"${len(self.args)}::{_cast(column)}"

    def array(self, column: sa.Column[Any], values: list[Any]) -> str:
        if _is_json(column):
            values = [_json(v) for v in values]
        self.args.append(values)
        return f"${len(self.args)}::{_cast(column)}[]"


def _assignments(statement: _Statement, table: sa.Table, values: dict[str, Any]) -> str:
    return ", ".join(
        f'"{name}" = {statement.param(table.c[name], value)}' for name, value in values.items()
    )


def write_statement(writes: WriteSet) -> tuple[str, list[Any]]:
    """The write set as one statement answering one boolean: did the compare-and-set hold."""
    statement = _Statement()
    parts: list[str] = []
    checks: list[str] = []
    guard = writes.guard
    if guard is not None:
        sets = _assignments(statement, REFERRALS, guard.values)
        rid = statement.param(REFERRALS.c.id, guard.referral_id)
        version = statement.param(REFERRALS.c.version, guard.read_version)
        parts.append(
            f"g AS (UPDATE referrals SET {sets} WHERE id = {rid} AND version = {version} "  # noqa: S608 - names from the models, values as parameters
            "RETURNING 1)"
        )
        checks.append("EXISTS (SELECT 1 FROM g)")
    for index, change in enumerate(writes.handoff_changes):
        sets = _assignments(statement, HANDOFFS, change.values)
        hid = statement.param(HANDOFFS.c.id, change.handoff_id)
        version = statement.param(HANDOFFS.c.version, change.expected_version)
        gate = " AND EXISTS (SELECT 1 FROM g)" if guard is not None else ""
        parts.append(
            f"h{index} AS (UPDATE handoffs SET {sets} WHERE id = {hid} AND version = {version}"  # noqa: S608 - names from the models, values as parameters
            f"{gate} RETURNING 1)"
        )
        checks.append(f"EXISTS (SELECT 1 FROM h{index})")  # noqa: S608 - names from the models, values as parameters
    where = f" WHERE {' AND '.join(checks)}" if checks else ""
    for index, (table, rows) in enumerate(writes.inserts.items()):
        names = list(rows[0])
        columns = ", ".join(f'"{name}"' for name in names)
        arrays = ", ".join(
            statement.array(table.c[name], [row[name] for row in rows]) for name in names
        )
        parts.append(
            f"i{index} AS (INSERT INTO {table.name} ({columns}) "  # noqa: S608 - names from the models, values as parameters
            f"SELECT * FROM unnest({arrays}){where})"
        )
    answer = " AND ".join(checks) if checks else "true"
    return f"WITH {', '.join(parts)} SELECT {answer}", statement.args


async def write(connection: Any, writes: WriteSet) -> None:
    """Run the write set; ``StaleWrite`` if the referral moved on (nothing written)."""
    sql, args = write_statement(writes)
    try:
        held = await connection.fetchval(sql, *args)
    except asyncpg.UniqueViolationError as exc:
        if exc.table_name == IDEMPOTENCY.name:
            raise DuplicateIdempotencyKey from None
        raise
    if not held:
        raise StaleWrite


# -- reading ---------------------------------------------------------------------------------

_ATTACHMENT_FIELDS = ("id", "filename_enc", "content_type", "size", "created_at", "erased_at")


@cache
def _read_sql() -> str:
    referral = ", ".join(f"r.{c.name}" for c in REFERRALS.columns)
    handoff = ", ".join(f"h.{c.name}" for c in HANDOFFS.columns)
    attachment = ", ".join(f"'{name}', a.{name}" for name in _ATTACHMENT_FIELDS)
    return (
        f"SELECT {referral}, {handoff}, "  # noqa: S608 - names from the models, values as parameters
        f"(SELECT json_agg(json_build_object({attachment}) ORDER BY a.created_at, a.id) "
        "FROM attachments a WHERE a.referral_id = r.id) "
        "FROM referrals r LEFT JOIN handoffs h ON h.referral_id = r.id "
        "WHERE r.id = $1 ORDER BY h.position"
    )


def _values(table: sa.Table, record: Any, offset: int) -> dict[str, Any]:
    return {column.name: record[index] for index, column in enumerate(table.columns, offset)}


class _AttachmentMeta(msgspec.Struct):
    id: uuid.UUID
    content_type: str
    size: int
    created_at: datetime
    filename_enc: str | None = None
    erased_at: datetime | None = None


async def read(
    connection: Any, referral_id: uuid.UUID
) -> tuple[m.Referral, list[m.Handoff], list[m.Attachment]] | None:
    """The referral, its handoffs (by position) and its attachments' metadata, as detached
    model objects, from one statement (one snapshot)."""
    records = await connection.fetch(_read_sql(), referral_id)
    if not records:
        return None
    width = len(REFERRALS.columns)
    referral = m.Referral(**_values(REFERRALS, records[0], 0))
    handoffs = [
        m.Handoff(**_values(HANDOFFS, record, width))
        for record in records
        if record[width] is not None
    ]
    raw = records[0][-1]
    metas = msgspec.convert(raw, list[_AttachmentMeta], strict=False) if raw else []
    attachments = [
        m.Attachment(referral_id=referral_id, **msgspec.structs.asdict(meta)) for meta in metas
    ]
    return referral, handoffs, attachments
