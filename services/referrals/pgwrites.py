"""PostgreSQL: a referral read in one statement, and everything a request changes written in one.

Optimistic concurrency for the request path: the referral and its handoffs are read without a
lock (one SELECT), the pure domain plans on that state, and the whole change — the referral's
version compare-and-set, handoff updates, new rows, timeline events, outbox messages, access
log, idempotency record — is one statement of data-modifying CTEs, all or nothing, committed on
its own (no BEGIN/COMMIT round trips). Every writer of a referral bumps its version (here or
through the locking path of ``service.py``), so a matching version proves the plan was made on
the current state; otherwise nothing is written and the caller plans again on a fresh read.

Statements go through a pooled asyncpg connection (``Database.driver``: SQLAlchemy's session
and per-statement machinery cost more CPU than the database work on this path), with the JSON
codecs SQLAlchemy installed on it: JSON parameters travel as JSON text, JSON results come back
decoded. A statement's text depends on which parts a request has, not on its values (one row:
scalar parameters; several: arrays through ``unnest``), so it is built once per shape and
asyncpg's cache of prepared statements holds a handful of them.
"""

# ruff: noqa: S608 - statements built from the models' names; every value is a parameter

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import asyncpg
import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from services.kernel.db import JSONType
from services.referrals import models as m
from services.referrals.models import HANDOFFS, IDEMPOTENCY, REFERRALS

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
def _columns(table: sa.Table) -> dict[str, tuple[str, bool]]:
    """Each column's cast (asyncpg infers nothing from a bare ``$n``) and whether it is JSON."""
    return {
        column.name: (str(column.type.compile(dialect=_DIALECT)), isinstance(column.type, JSONType))
        for column in table.columns
    }


def _json(value: Any) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()


# What a statement's text depends on: the columns each part sets, and for inserts whether one
# row (scalar parameters) or several (arrays through unnest: one text for any count).
_Shape = tuple[
    tuple[str, ...] | None,
    tuple[tuple[str, ...], ...],
    tuple[tuple[sa.Table, tuple[str, ...], bool], ...],
]


def _shape(writes: WriteSet) -> _Shape:
    return (
        tuple(writes.guard.values) if writes.guard is not None else None,
        tuple(tuple(change.values) for change in writes.handoff_changes),
        tuple((table, tuple(rows[0]), len(rows) == 1) for table, rows in writes.inserts.items()),
    )


class _Numbering:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, table: sa.Table, name: str, *, array: bool = False) -> str:
        self.count += 1
        return f"${self.count}::{_columns(table)[name][0]}{'[]' if array else ''}"


@lru_cache(maxsize=256)
def _sql(shape: _Shape) -> str:
    """One statement answering one boolean: did the compare-and-set hold."""
    guard, changes, inserts = shape
    param = _Numbering()
    parts: list[str] = []
    checks: list[str] = []

    def sets(table: sa.Table, names: tuple[str, ...]) -> str:
        return ", ".join(f'"{name}" = {param(table, name)}' for name in names)

    if guard is not None:
        assignments = sets(REFERRALS, guard)
        parts.append(
            f"g AS (UPDATE referrals SET {assignments} WHERE id = {param(REFERRALS, 'id')} "
            f"AND version = {param(REFERRALS, 'version')} RETURNING 1)"
        )
        checks.append("EXISTS (SELECT 1 FROM g)")
    gate = " AND EXISTS (SELECT 1 FROM g)" if guard is not None else ""
    for index, names in enumerate(changes):
        assignments = sets(HANDOFFS, names)
        parts.append(
            f"h{index} AS (UPDATE handoffs SET {assignments} WHERE id = {param(HANDOFFS, 'id')} "
            f"AND version = {param(HANDOFFS, 'version')}{gate} RETURNING 1)"
        )
        checks.append(f"EXISTS (SELECT 1 FROM h{index})")
    where = f" WHERE {' AND '.join(checks)}" if checks else ""
    for index, (table, names, single) in enumerate(inserts):
        columns = ", ".join(f'"{name}"' for name in names)
        if single:
            values = ", ".join(param(table, name) for name in names)
            rows = f"SELECT {values}"
        else:
            arrays = ", ".join(param(table, name, array=True) for name in names)
            rows = f"SELECT * FROM unnest({arrays})"
        parts.append(f"i{index} AS (INSERT INTO {table.name} ({columns}) {rows}{where})")
    answer = " AND ".join(checks) if checks else "true"
    return f"WITH {', '.join(parts)} SELECT {answer}"


def _args(writes: WriteSet) -> list[Any]:
    """The parameters, in the order ``_sql`` numbers them."""
    args: list[Any] = []

    def values(table: sa.Table, row: dict[str, Any]) -> None:
        columns = _columns(table)
        args.extend(_json(v) if columns[k][1] else v for k, v in row.items())

    if writes.guard is not None:
        values(REFERRALS, writes.guard.values)
        args += (writes.guard.referral_id, writes.guard.read_version)
    for change in writes.handoff_changes:
        values(HANDOFFS, change.values)
        args += (change.handoff_id, change.expected_version)
    for table, rows in writes.inserts.items():
        if len(rows) == 1:
            values(table, rows[0])
            continue
        columns = _columns(table)
        for name in rows[0]:
            column = [row[name] for row in rows]
            args.append([_json(v) for v in column] if columns[name][1] else column)
    return args


def write_statement(writes: WriteSet) -> tuple[str, list[Any]]:
    return _sql(_shape(writes)), _args(writes)


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
def read_statement() -> str:
    referral = ", ".join(f"r.{c.name}" for c in REFERRALS.columns)
    handoff = ", ".join(f"h.{c.name}" for c in HANDOFFS.columns)
    attachment = ", ".join(f"'{name}', a.{name}" for name in _ATTACHMENT_FIELDS)
    return (
        f"SELECT {referral}, {handoff}, "
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
    records = await connection.fetch(read_statement(), referral_id)
    if not records:
        return None
    width = len(REFERRALS.columns)
    referral = m.detached(m.Referral, _values(REFERRALS, records[0], 0))
    handoffs = [
        m.detached(m.Handoff, _values(HANDOFFS, record, width))
        for record in records
        if record[width] is not None
    ]
    raw = records[0][-1]
    metas = msgspec.convert(raw, list[_AttachmentMeta], strict=False) if raw else []
    attachments = [
        m.detached(m.Attachment, {"referral_id": referral_id, **msgspec.structs.asdict(meta)})
        for meta in metas
    ]
    return referral, handoffs, attachments


@cache
def _idempotency_sql() -> str:
    columns = ", ".join(f'"{column.name}"' for column in IDEMPOTENCY.columns)
    return f"SELECT {columns} FROM idempotency_keys WHERE owner = $1 AND key = $2"


async def idempotency_record(connection: Any, owner: str, key: str) -> m.IdempotencyRecord | None:
    record = await connection.fetchrow(_idempotency_sql(), owner, key)
    return None if record is None else m.detached(m.IdempotencyRecord, dict(record))
