"""Search documents of the services an import inserts, built in worker threads from the rows it
wrote while the import goes on writing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from functools import cache
from types import SimpleNamespace
from typing import Any, TypeVar

from services.directory.importer.bulk import column_default, table_of
from services.directory.models import Service
from services.directory.search import indexing


class Background:
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
Documents = tuple[
    list[uuid.UUID], set[uuid.UUID], list[dict[str, Any]], list[list[tuple[str, str]]]
]


@cache
def _service_defaults() -> dict[str, Any]:
    """What the database gives a new service's columns that an import leaves out."""
    table = table_of(Service)
    return {
        name: column_default(table.c[name].default) if table.c[name].default is not None else None
        for name in indexing.SERVICE_FIELDS
    }


def created_documents(
    created: list[tuple[dict[str, Any], list[str]]], structures: Mapping[uuid.UUID, Any]
) -> Documents:
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
