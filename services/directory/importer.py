"""data·inclusion v1 import: validate row by row, then upsert in bulk by (source, source id).

The work is set-based so a 100k-service file takes seconds: rows are parsed and validated in
Python (pure mapping, ``interop.datainclusion``), existing entries are read back in batches of
keys, and the differences are written in bulk (``_Bulk``: COPY on PostgreSQL). Services go
through in chunks of ``IMPORT_CHUNK``: the next chunk is parsed in a worker thread while the
current one is written and indexed. A row equal to what is stored is ``unchanged``: no write, no
version bump, no history row, no event. Created and updated entries get a history row and an
outbox event (``structure.upserted`` / ``service.upserted``) in the same transaction.

Services name their structure by (source, ``structure_id``): a structure of the same file, or
one already in the directory. The caller owns the transaction: nothing here commits, so the API
(one transaction per request) and the CLI (commit at the end) share the same code.

Scoping: ``allowed_structure_id`` restricts an import to one existing structure and its services
(API clients and structure admins); rows outside it are rejected, not written.
"""

from __future__ import annotations

import asyncio
import gc
import operator
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.interop import datainclusion as di
from services.directory.interop.datainclusion import RowError, ServiceRecord, StructureRecord
from services.directory.models import HistoryEntry, OutboxEvent, Service, ServiceZone, Structure
from services.directory.search import indexing
from services.kernel.db import JSONType, driver_connection, new_uuid, table_statistics
from services.kernel.outbox import utcnow

BATCH = 500
# Services are parsed, written and indexed this many at a time: the next chunk is parsed in a
# worker thread while the current one is written (the thread has the CPU while the import
# waits on the database).
IMPORT_CHUNK = 5000
IMPORT_STATUS = "published"
CREATE = "import-create"
UPDATE = "import-update"


def _table(model: type[Any]) -> sa.Table:
    table: sa.Table = model.__table__
    return table


class _Bulk:
    """Set-based reads and writes of one import (SQL text names only the model's own tables and
    columns; every value is a bound parameter). On PostgreSQL they go through the session's
    asyncpg connection, in its transaction: keys looked up with one ``= ANY($1)`` array per
    source, rows inserted with COPY, updates COPied into a temporary table and applied with one
    ``UPDATE … FROM``. Elsewhere (SQLite), batched SQLAlchemy statements."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"

    async def select_by_keys(
        self, table: sa.Table, column: str, keys: Sequence[Any], columns: Sequence[str], **eq: Any
    ) -> list[Mapping[str, Any]]:
        """Rows of ``table`` whose ``column`` is one of ``keys`` (and other columns equal to
        ``eq``), as mappings of ``columns``."""
        if not keys:
            return []
        if not self.postgres:
            found: list[Mapping[str, Any]] = []
            for chunk in _chunks(keys):
                query = sa.select(*(table.c[c] for c in columns)).where(
                    table.c[column].in_(list(chunk)), *(table.c[k] == v for k, v in eq.items())
                )
                found.extend(dict(row) for row in (await self.session.execute(query)).mappings())
            return found
        # JSON columns read as text and decoded here (msgspec), faster than the json.loads
        # codec of the connection.
        json_columns = [c for c in columns if isinstance(table.c[c].type, JSONType)]
        names = ", ".join(f'"{c}"::text' if c in json_columns else f'"{c}"' for c in columns)
        array = "uuid[]" if isinstance(table.c[column].type, sa.Uuid) else "text[]"
        where = [f'"{column}" = ANY($1::{array})']
        where += [f'"{k}" = ${i}' for i, k in enumerate(eq, start=2)]
        sql = f'SELECT {names} FROM "{table.name}" WHERE {" AND ".join(where)}'  # noqa: S608
        driver = await driver_connection(self.session)
        rows = await driver.fetch(sql, list(keys), *eq.values())
        if not json_columns:
            return list(rows)
        decode = msgspec.json.decode
        found = []
        for row in rows:
            item = dict(zip(columns, row, strict=True))
            for name in json_columns:
                if item[name] is not None:
                    item[name] = decode(item[name])
            found.append(item)
        return found

    async def insert(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if not self.postgres:
            for chunk in _chunks(rows, BATCH * 2):
                await self.session.execute(sa.insert(table), list(chunk))
            return
        columns, records = _records(table, rows)
        driver = await driver_connection(self.session)
        await driver.copy_records_to_table(table.name, records=records, columns=columns)

    async def update(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Set the columns each row names (the same for every row), by ``id``."""
        if not rows:
            return
        names = [c for c in rows[0] if c != "id"]
        if not self.postgres:
            statement = (
                sa.update(table)
                .where(table.c.id == sa.bindparam("_id"))
                .values({c: sa.bindparam(f"_{c}") for c in names})
            )
            for chunk in _chunks(rows):
                params = [{f"_{k}": v for k, v in row.items()} for row in chunk]
                await self.session.execute(statement, params)
            return
        driver = await driver_connection(self.session)
        scratch = f"import_{table.name}"
        columns, records = _records(table, rows, defaults=False)
        listed = ", ".join(f'"{c}"' for c in columns)
        await driver.execute(f'DROP TABLE IF EXISTS pg_temp."{scratch}"')
        await driver.execute(
            f'CREATE TEMPORARY TABLE "{scratch}" ON COMMIT DROP AS '  # noqa: S608
            f'SELECT {listed} FROM "{table.name}" WITH NO DATA'
        )
        await driver.copy_records_to_table(scratch, records=records, columns=columns)
        assignments = ", ".join(f'"{c}" = u."{c}"' for c in names)
        await driver.execute(
            f'UPDATE "{table.name}" t SET {assignments} FROM "{scratch}" u WHERE t.id = u.id'  # noqa: S608
        )

    async def delete(self, table: sa.Table, column: str, keys: Sequence[Any]) -> None:
        if not keys:
            return
        if not self.postgres:
            for chunk in _chunks(keys):
                await self.session.execute(sa.delete(table).where(table.c[column].in_(list(chunk))))
            return
        array = "uuid[]" if isinstance(table.c[column].type, sa.Uuid) else "text[]"
        driver = await driver_connection(self.session)
        statement = f'DELETE FROM "{table.name}" WHERE "{column}" = ANY($1::{array})'  # noqa: S608
        await driver.execute(statement, list(keys))


def _records(
    table: sa.Table, rows: Sequence[Mapping[str, Any]], *, defaults: bool = True
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """COPY records of ``rows`` (which all name the same columns): those columns, then (with
    ``defaults``) the other columns with a Python-side default, as ``INSERT`` would fill them
    (evaluated once, except for primary keys); JSON columns as JSON text."""
    present = list(rows[0])
    missing = [
        c
        for c in table.columns
        if defaults and c.name not in rows[0] and c.default is not None and not c.primary_key
    ]
    if any(c.primary_key and c.name not in rows[0] for c in table.columns):
        raise ValueError(f"{table.name}: rows without their primary key")
    encode = msgspec.json.encode

    def text(column: sa.Column[Any], value: Any) -> Any:
        if value is None or not isinstance(column.type, JSONType):
            return value
        return encode(value).decode()

    tail = tuple(text(c, _default(c.default)) for c in missing)
    json_at = [i for i, name in enumerate(present) if isinstance(table.c[name].type, JSONType)]
    pick = operator.itemgetter(*present)
    records: list[tuple[Any, ...]] = []
    for row in rows:
        if len(row) != len(present):
            raise ValueError(f"{table.name}: rows naming different columns")
        picked = pick(row)
        values = list(picked) if len(present) > 1 else [picked]
        for i in json_at:
            if values[i] is not None:
                values[i] = encode(values[i]).decode()
        records.append((*values, *tail))
    return [*present, *(c.name for c in missing)], records


def _default(default: Any) -> Any:
    if default.is_callable:
        return default.arg(None)
    return default.arg


class KindCounts(msgspec.Struct, kw_only=True):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0


class ImportReport(msgspec.Struct, kw_only=True):
    """Outcome of one import: counts (overall and per kind) and every rejected row's errors."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    structures: KindCounts = msgspec.field(default_factory=KindCounts)
    services: KindCounts = msgspec.field(default_factory=KindCounts)
    errors: list[RowError] = msgspec.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rejected == 0

    def total(self) -> None:
        for name in ("created", "updated", "unchanged", "rejected"):
            setattr(self, name, getattr(self.structures, name) + getattr(self.services, name))


async def import_datainclusion(
    session: AsyncSession,
    structures: Sequence[Mapping[str, Any]],
    services: Sequence[Mapping[str, Any]],
    *,
    actor: str | None = None,
    actor_structure_id: uuid.UUID | None = None,
    default_source: str | None = None,
    structure_rows: Sequence[int] | None = None,
    service_rows: Sequence[int] | None = None,
    allowed_structure_id: uuid.UUID | None = None,
) -> ImportReport:
    """Upsert data·inclusion v1 rows; invalid rows are reported and never half-applied.

    ``structure_rows`` / ``service_rows`` give each row's number in its file (default: 1-based
    position). Nothing is committed here.
    """
    with _collector_paused():
        return await _import(
            session,
            structures,
            services,
            actor=actor,
            actor_structure_id=actor_structure_id,
            default_source=default_source,
            structure_rows=structure_rows,
            service_rows=service_rows,
            allowed_structure_id=allowed_structure_id,
        )


_paused = 0


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while an import runs: it allocates millions of small,
    acyclic objects (rows, records, history changes) that would trigger full collections over
    an ever larger heap (measured: ~30 % of an import's CPU at 100k services). Collection
    resumes when the last running import ends."""
    global _paused
    if _paused == 0 and not gc.isenabled():
        yield  # disabled by someone else: leave it as it is
        return
    _paused += 1
    gc.disable()
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0:
            gc.enable()


async def _import(
    session: AsyncSession,
    structures: Sequence[Mapping[str, Any]],
    services: Sequence[Mapping[str, Any]],
    *,
    actor: str | None,
    actor_structure_id: uuid.UUID | None,
    default_source: str | None,
    structure_rows: Sequence[int] | None,
    service_rows: Sequence[int] | None,
    allowed_structure_id: uuid.UUID | None,
) -> ImportReport:
    report = ImportReport()
    now = utcnow()
    context = _Context(session, report, now, actor, actor_structure_id, allowed_structure_id)

    search = indexing.IndexRefresh(session)
    parser = _ServiceParser(default_source)
    numbers = _rows(len(services), service_rows)
    chunks = [
        (services[start : start + IMPORT_CHUNK], numbers[start : start + IMPORT_CHUNK])
        for start in range(0, len(services), IMPORT_CHUNK)
    ]
    background = _Background()
    try:
        # The first chunk of services is parsed while the structures are written.
        parsing = background.start(parser.parse, *chunks[0]) if chunks else None
        records = _parse_structures(structures, structure_rows, default_source, report)
        structure_ids = await context.upsert_structures(records)
        documents: list[asyncio.Future[_Documents]] = []
        for position in range(len(chunks)):
            assert parsing is not None
            parsed = await parsing
            following = chunks[position + 1] if position + 1 < len(chunks) else None
            parsing = background.start(parser.parse, *following) if following else None
            documents += await context.import_services(parsed, structure_ids, search, background)
            # A chunk's new documents are made while the next chunk is written.
            while len(documents) > 1:
                await search.add_documents(*await documents.pop(0))
        for built in documents:
            await search.add_documents(*await built)
    finally:
        background.cancel()
    await context.flush_side_tables()
    # Then what the structures' changes touch: their other services, and the structures.
    await search.add_structures(context.changed_structures)
    await search.finish()
    await table_statistics(session).refresh()
    report.errors.sort(key=lambda e: (e.kind != "structure", e.row))
    report.total()
    return report


class _Background:
    """Pure-Python work (parsing, documents) in worker threads while the import waits on the
    database; cancelled (results dropped) if the import fails."""

    def __init__(self) -> None:
        self.futures: list[asyncio.Future[Any]] = []

    def start(self, work: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        future = asyncio.ensure_future(asyncio.to_thread(work, *args))
        self.futures.append(future)
        return future

    def cancel(self) -> None:
        for future in self.futures:
            future.cancel()


_T = TypeVar("_T")
_Documents = tuple[
    list[uuid.UUID], set[uuid.UUID], list[dict[str, Any]], list[list[tuple[str, str]]]
]


@cache
def _service_defaults() -> dict[str, Any]:
    """What the database gives a new service's columns that an import leaves out."""
    table = _table(Service)
    return {
        name: _default(table.c[name].default) if table.c[name].default is not None else None
        for name in indexing.SERVICE_FIELDS
    }


def _created_documents(
    created: list[tuple[dict[str, Any], list[str]]], structures: Mapping[uuid.UUID, Any]
) -> _Documents:
    """Search documents of services this import inserted, from the rows it wrote (as the
    database now holds them: the rows' values, else the columns' defaults). Pure: runs in a
    worker thread."""
    defaults = _service_defaults()
    rows = [
        SimpleNamespace(**{name: row.get(name, defaults[name]) for name in defaults})
        for row, _ in created
    ]
    zones = {row["id"]: list(row_zones) for row, row_zones in created}
    documents, facet_rows = indexing.service_documents(rows, structures, zones)
    ids = [row["id"] for row, _ in created]
    return ids, {row["structure_id"] for row, _ in created}, documents, facet_rows


# --------------------------------------------------------------------------- parsing


def _rows(count: int, rows: Sequence[int] | None) -> Sequence[int]:
    if rows is not None and len(rows) == count:
        return rows
    return range(1, count + 1)


def _raw_key(raw: Any, default_source: str | None) -> tuple[str, str] | None:
    if not isinstance(raw, Mapping):
        return None
    source = raw.get("source") or default_source
    source_id = raw.get("id")
    if isinstance(source, str) and isinstance(source_id, str | int):
        return source.strip(), str(source_id).strip()
    return None


def _reject(
    report: ImportReport, counts: KindCounts, errors: list[RowError], row_errors: list[RowError]
) -> None:
    counts.rejected += 1
    errors.extend(row_errors)


def _parse_structures(
    rows: Sequence[Mapping[str, Any]],
    numbers: Sequence[int] | None,
    default_source: str | None,
    report: ImportReport,
) -> dict[tuple[str, str], StructureRecord | list[RowError]]:
    """Parsed rows by (source, source id); a rejected row keeps its key (services cite it)."""
    records: dict[tuple[str, str], StructureRecord | list[RowError]] = {}
    for raw, number in zip(rows, _rows(len(rows), numbers), strict=True):
        parsed = di.parse_structure(raw, number, default_source=default_source)
        key = (
            (parsed.source, parsed.source_id)
            if isinstance(parsed, StructureRecord)
            else _raw_key(raw, default_source)
        )
        if key is not None and key in records:
            first = records[key]
            first_row = first.row if isinstance(first, StructureRecord) else first[0].row
            parsed = [_duplicate("structure", number, key[1], first_row)]
            key = None
        if isinstance(parsed, list):
            _reject(report, report.structures, report.errors, parsed)
        if key is not None:
            records[key] = parsed
    return records


class _ParsedServices(msgspec.Struct):
    records: list[ServiceRecord]
    rejected: list[list[RowError]]


class _ServiceParser:
    """Parses service rows chunk after chunk (pure Python, no I/O: it runs in a worker
    thread), rejecting a source id already seen in an earlier row of the import."""

    def __init__(self, default_source: str | None) -> None:
        self.default_source = default_source
        self.seen: dict[tuple[str, str], int] = {}

    def parse(self, rows: Sequence[Mapping[str, Any]], numbers: Sequence[int]) -> _ParsedServices:
        parsed_rows = _ParsedServices(records=[], rejected=[])
        for raw, number in zip(rows, numbers, strict=True):
            parsed = di.parse_service(raw, number, default_source=self.default_source)
            key = _raw_key(raw, self.default_source)
            if isinstance(parsed, ServiceRecord):
                key = (parsed.source, parsed.source_id)
            if key is not None and key in self.seen:
                parsed = [_duplicate("service", number, key[1], self.seen[key])]
            elif key is not None:
                self.seen[key] = number
            if isinstance(parsed, list):
                parsed_rows.rejected.append(parsed)
            else:
                parsed_rows.records.append(parsed)
        return parsed_rows


def _duplicate(kind: di.Kind, row: int, source_id: str, first_row: int) -> RowError:
    return RowError(
        kind=kind,
        row=row,
        source_id=source_id,
        field="id",
        reason=f"identifiant en double dans cet import (déjà ligne {first_row})",
        value=source_id,
    )


# --------------------------------------------------------------------------- writing


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Values already as JSON has them (lists here are lists of slugs).
_JSON_NATIVE = frozenset({str, int, float, bool, type(None), list})


def _plain(value: Any) -> Any:
    if value.__class__ in _JSON_NATIVE:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """History format of the directory: ``{field: [before, after]}``."""
    return {
        key: [_plain(old.get(key)), _plain(value)]
        for key, value in new.items()
        if old.get(key) != value
    }


def _created(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: [None, _plain(value)] for key, value in values.items() if value not in (None, [])}


class _Context:
    def __init__(
        self,
        session: AsyncSession,
        report: ImportReport,
        now: datetime,
        actor: str | None,
        actor_structure_id: uuid.UUID | None,
        allowed_structure_id: uuid.UUID | None,
    ) -> None:
        self.session = session
        self.report = report
        self.now = now
        self.actor = actor
        self.actor_structure_id = actor_structure_id
        self.allowed = allowed_structure_id
        self.history: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.changed_structures: list[uuid.UUID] = []
        self.statistics = table_statistics(session)
        self.sources_before: dict[tuple[str, str], bool] = {}
        # Services inserted by the last ``upsert_services``: their rows and zones.
        self.created: list[tuple[dict[str, Any], list[str]]] = []
        self.bulk = _Bulk(session)

    def record(
        self,
        kind: str,
        entity_id: uuid.UUID,
        structure_id: uuid.UUID,
        action: str,
        changes: dict[str, Any],
    ) -> None:
        """History row and outbox event, in the same shapes as the native API's writes."""
        self.history.append(
            {
                "id": new_uuid(),
                "entity_type": kind,
                "entity_id": entity_id,
                "action": action,
                "actor": self.actor,
                "actor_structure_id": self.actor_structure_id,
                "at": self.now,
                "changes": changes,
            }
        )
        self.events.append(
            {
                "id": new_uuid(),
                "topic": f"{kind}.upserted",
                "aggregate_id": str(entity_id),
                "payload": {"id": str(entity_id), "structure_id": str(structure_id)},
                "created_at": self.now,
                "available_at": self.now,
                "attempts": 0,
            }
        )

    def out_of_scope(self, kind: di.Kind, row: int, source_id: str, field: str) -> RowError:
        return RowError(
            kind=kind,
            row=row,
            source_id=source_id,
            field=field,
            reason="hors du périmètre de l'appelant (seule sa propre structure peut être importée)",
            value=source_id if field == "id" else None,
        )

    # -- structures --------------------------------------------------------------------

    async def _existing(
        self,
        model: type[Structure] | type[Service],
        keys: Iterable[tuple[str, str]],
        extra: list[str],
    ) -> dict[tuple[str, str], dict[str, Any]]:
        by_source: dict[str, list[str]] = {}
        for source, source_id in keys:
            by_source.setdefault(source, []).append(source_id)
        columns = ["id", "source", "source_id", "version", *extra]
        table = _table(model)
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for source, ids in by_source.items():
            if not await self._had_entries(table, source):
                continue
            rows = await self.bulk.select_by_keys(table, "source_id", ids, columns, source=source)
            for row in rows:
                found[(row["source"], row["source_id"])] = dict(row)
        return found

    async def _had_entries(self, table: sa.Table, source: str) -> bool:
        """Whether ``table`` held entries of ``source`` before this import wrote any (asked
        before the first write). If not, no key of the import can be stored yet (the import
        writes each key once): a first import of a source skips every lookup."""
        key = (table.name, source)
        if key not in self.sources_before:
            found = await self.session.scalar(
                sa.select(sa.literal(True)).where(table.c.source == source).limit(1)
            )
            self.sources_before[key] = bool(found)
        return self.sources_before[key]

    async def upsert_structures(
        self, records: Mapping[tuple[str, str], StructureRecord | list[RowError]]
    ) -> dict[tuple[str, str], uuid.UUID | list[RowError]]:
        """Write valid structure rows; return every key's id (or the errors that rejected it)."""
        counts = self.report.structures
        existing = await self._existing(Structure, records.keys(), list(di.STRUCTURE_COLUMNS))
        ids: dict[tuple[str, str], uuid.UUID | list[RowError]] = {}
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for key, record in records.items():
            current = existing.get(key)
            if isinstance(record, list):
                # Rejected here, but services may still attach to the stored entry.
                ids[key] = current["id"] if current is not None else record
                continue
            if self.allowed is not None and (current is None or current["id"] != self.allowed):
                error = self.out_of_scope("structure", record.row, record.source_id, "id")
                _reject(self.report, counts, self.report.errors, [error])
                ids[key] = current["id"] if current is not None else [error]
                continue
            values = record.values
            if current is None:
                entity_id = new_uuid()
                inserts.append(self._new_row(entity_id, record.source, record.source_id, values))
                self.record("structure", entity_id, entity_id, CREATE, _created(values))
                self.changed_structures.append(entity_id)
                counts.created += 1
            else:
                entity_id = current["id"]
                changes = _changes(current, values)
                if changes:
                    version = current["version"] + 1
                    updates.append(self._update_row(entity_id, version, values))
                    self.record("structure", entity_id, entity_id, UPDATE, changes)
                    self.changed_structures.append(entity_id)
                    counts.updated += 1
                else:
                    counts.unchanged += 1
            ids[key] = entity_id
        await self._write(Structure, inserts, updates)
        return ids

    def _new_row(
        self, entity_id: uuid.UUID, source: str, source_id: str, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "id": entity_id,
            "source": source,
            "source_id": source_id,
            "status": IMPORT_STATUS,
            "created_at": self.now,
            "updated_at": self.now,
            "created_by": self.actor,
            "updated_by": self.actor,
            "version": 1,
            **values,
        }

    def _update_row(
        self, entity_id: uuid.UUID, version: int, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "id": entity_id,
            "version": version,
            "updated_at": self.now,
            "updated_by": self.actor,
            **values,
        }

    async def _write(
        self,
        model: type[Structure] | type[Service],
        inserts: Sequence[dict[str, Any]],
        updates: Sequence[dict[str, Any]],
    ) -> None:
        table = _table(model)
        await self.bulk.insert(table, inserts)
        await self.bulk.update(table, updates)
        await self.statistics.wrote(table.name, len(inserts) + len(updates))

    # -- services ----------------------------------------------------------------------

    async def upsert_services(
        self,
        records: Sequence[ServiceRecord],
        structure_ids: Mapping[tuple[str, str], uuid.UUID | list[RowError]],
    ) -> list[uuid.UUID]:
        counts = self.report.services
        resolved = dict(structure_ids)
        missing = {
            (r.source, r.structure_source_id)
            for r in records
            if (r.source, r.structure_source_id) not in resolved
        }
        for key, row in (await self._existing(Structure, missing, [])).items():
            resolved[key] = row["id"]
        existing = await self._existing(
            Service,
            [(r.source, r.source_id) for r in records],
            [*di.SERVICE_COLUMNS, "structure_id"],
        )
        zones = await self._zones([row["id"] for row in existing.values()])

        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        zone_rows: list[dict[str, Any]] = []
        replaced_zones: list[uuid.UUID] = []
        changed: list[uuid.UUID] = []
        for record in records:
            structure = resolved.get((record.source, record.structure_source_id))
            if not isinstance(structure, uuid.UUID):
                error = self._unresolved(record, structure)
                _reject(self.report, counts, self.report.errors, [error])
                continue
            current = existing.get((record.source, record.source_id))
            if self.allowed is not None and (
                structure != self.allowed
                or (current is not None and current["structure_id"] != self.allowed)
            ):
                error = self.out_of_scope("service", record.row, record.source_id, "structure_id")
                _reject(self.report, counts, self.report.errors, [error])
                continue
            values = {**record.values, "structure_id": structure}
            if current is None:
                entity_id = new_uuid()
                inserts.append(self._new_row(entity_id, record.source, record.source_id, values))
                self.created.append((inserts[-1], record.zones))
                zone_rows += [{"service_id": entity_id, "zone": z} for z in record.zones]
                self.record("service", entity_id, structure, CREATE, _created(values))
                counts.created += 1
                changed.append(entity_id)
                continue
            entity_id = current["id"]
            changes = _changes(current, values)
            old_zones = zones.get(entity_id, [])
            if old_zones != record.zones:
                changes["zones"] = {"from": old_zones, "to": record.zones}
                replaced_zones.append(entity_id)
                zone_rows += [{"service_id": entity_id, "zone": z} for z in record.zones]
            if not changes:
                counts.unchanged += 1
                continue
            version = current["version"] + 1
            updates.append(self._update_row(entity_id, version, values))
            self.record("service", entity_id, structure, UPDATE, changes)
            counts.updated += 1
            changed.append(entity_id)
        await self._write(Service, inserts, updates)
        zone_table = _table(ServiceZone)
        await self.bulk.delete(zone_table, "service_id", replaced_zones)
        await self.bulk.insert(zone_table, zone_rows)
        await self.statistics.wrote(zone_table.name, len(zone_rows))
        return changed

    async def import_services(
        self,
        parsed: _ParsedServices,
        structure_ids: Mapping[tuple[str, str], uuid.UUID | list[RowError]],
        search: indexing.IndexRefresh,
        background: _Background,
    ) -> list[asyncio.Future[_Documents]]:
        """Write one chunk of parsed services and index it: updated services read back from
        the database now, new ones from the rows just written, in a worker thread (the
        returned future, for ``search.add_documents``)."""
        for errors in parsed.rejected:
            _reject(self.report, self.report.services, self.report.errors, errors)
        written = await self.upsert_services(parsed.records, structure_ids)
        created, self.created = self.created, []
        await self.flush_side_tables()
        fresh = {row["id"] for row, _ in created}
        await search.add_services([i for i in written if i not in fresh])
        if not created:
            return []
        structures = await indexing.structure_rows(
            self.session, {row["structure_id"] for row, _ in created}
        )
        return [background.start(_created_documents, created, structures)]

    def _unresolved(self, record: ServiceRecord, structure: Any) -> RowError:
        if isinstance(structure, list) and structure:
            reason = f"structure rejetée dans cet import (ligne {structure[0].row})"
        else:
            reason = "structure inconnue (ni dans cet import ni dans l'annuaire pour cette source)"
        return RowError(
            kind="service",
            row=record.row,
            source_id=record.source_id,
            field="structure_id",
            reason=reason,
            value=record.structure_source_id,
        )

    async def _zones(self, service_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        zones: dict[uuid.UUID, list[str]] = {}
        rows = await self.bulk.select_by_keys(
            _table(ServiceZone), "service_id", service_ids, ["service_id", "zone"]
        )
        for row in rows:
            zones.setdefault(row["service_id"], []).append(row["zone"])
        for found in zones.values():
            found.sort()
        return zones

    async def flush_side_tables(self) -> None:
        await self.bulk.insert(_table(HistoryEntry), self.history)
        await self.bulk.insert(_table(OutboxEvent), self.events)
        self.history = []
        self.events = []
