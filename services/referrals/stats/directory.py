"""What statistics need from the directory, read through its public API: each structure's name
and département, each service's name, structure and type. Public data, remembered for a minute
per locator so that successive statistics requests do not ask again."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
import msgspec

from services.kernel.http import ServiceLocator
from services.referrals.directory import unavailable

REMEMBER_SECONDS = 60.0
CONCURRENCY = 8


class _Structure(msgspec.Struct, kw_only=True):
    name: str
    departement_code: str | None = None


class _Service(msgspec.Struct, kw_only=True):
    name: str
    structure_id: str
    type: str | None = None


@dataclass(frozen=True)
class Entry:
    name: str
    departement: str | None = None  # structures
    type: str | None = None  # services


_known: weakref.WeakKeyDictionary[ServiceLocator, dict[str, tuple[float, Entry | None]]] = (
    weakref.WeakKeyDictionary()
)


async def entries(
    locator: ServiceLocator, structures: Iterable[str], services: Iterable[str]
) -> dict[str, Entry]:
    """Entries by id (absent: unknown to the directory or not public)."""
    cache = _known.setdefault(locator, {})
    now = time.monotonic()
    wanted = [("structures", i) for i in sorted(set(structures))]
    wanted += [("services", i) for i in sorted(set(services))]
    missing = [
        (kind, i) for kind, i in wanted if i not in cache or now - cache[i][0] > REMEMBER_SECONDS
    ]
    if missing:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(client: httpx.AsyncClient, kind: str, ident: str) -> None:
            async with semaphore:
                try:
                    response = await client.get(f"/directory/v1/{kind}/{ident}")
                except httpx.HTTPError as exc:
                    raise unavailable(reading=True) from exc
            if response.status_code == 404:
                cache[ident] = (now, None)
                return
            if response.status_code != 200:
                raise unavailable(reading=True)
            if kind == "structures":
                found = msgspec.json.decode(response.content, type=_Structure)
                cache[ident] = (now, Entry(found.name, departement=found.departement_code))
            else:
                service = msgspec.json.decode(response.content, type=_Service)
                cache[ident] = (now, Entry(service.name, type=service.type))

        async with locator.client("directory") as client:
            await asyncio.gather(*(one(client, kind, i) for kind, i in missing))
    return {i: entry for _, i in wanted if (entry := cache[i][1]) is not None}
