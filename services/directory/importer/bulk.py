"""Set-based reads and writes of an import: COPY on PostgreSQL, batched statements on SQLite."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.db import JSONType, driver_connection

BATCH = 500


def chunks(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def table_of(model: type[Any]) -> sa.Table:
    table: sa.Table = model.__table__
    return table


class Bulk:
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
            for chunk in chunks(keys):
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
            for chunk in chunks(rows, BATCH * 2):
                await self.session.execute(sa.insert(table), list(chunk))
            return
        columns, records = copy_records(table, rows)
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
            for chunk in chunks(rows):
                params = [{f"_{k}": v for k, v in row.items()} for row in chunk]
                await self.session.execute(statement, params)
            return
        driver = await driver_connection(self.session)
        scratch = f"import_{table.name}"
        columns, records = copy_records(table, rows, defaults=False)
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
            for chunk in chunks(keys):
                await self.session.execute(sa.delete(table).where(table.c[column].in_(list(chunk))))
            return
        array = "uuid[]" if isinstance(table.c[column].type, sa.Uuid) else "text[]"
        driver = await driver_connection(self.session)
        statement = f'DELETE FROM "{table.name}" WHERE "{column}" = ANY($1::{array})'  # noqa: S608
        await driver.execute(statement, list(keys))


def copy_records(
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

    tail = tuple(text(c, column_default(c.default)) for c in missing)
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


def column_default(default: Any) -> Any:
    if default.is_callable:
        return default.arg(None)
    return default.arg
