"""Structure names by id, read through the directory's public API and kept for an hour: the
referrals API names senders and consent recipients by id, people read names."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable

from services.web.clients.base import ApiError, Unavailable
from services.web.clients.directory import DirectoryApi

TTL_SECONDS = 3600.0
MAX_ENTRIES = 5000
GONE = "structure retirée de l’annuaire"


class StructureNames:
    def __init__(self) -> None:
        self._known: dict[uuid.UUID, tuple[str, float]] = {}

    def remember(self, structure_id: uuid.UUID, name: str) -> None:
        if len(self._known) >= MAX_ENTRIES:
            self._known.clear()
        self._known[structure_id] = (name, time.monotonic())

    def _fresh(self, structure_id: uuid.UUID) -> str | None:
        found = self._known.get(structure_id)
        if found is None or time.monotonic() - found[1] > TTL_SECONDS:
            return None
        return found[0]

    async def _fetch(self, directory: DirectoryApi, structure_id: uuid.UUID) -> None:
        try:
            structure, _ = await directory.structure(structure_id)
            name = structure.name
        except Unavailable:
            raise
        except ApiError:
            name = GONE  # unpublished or removed: the referral keeps its history
        self.remember(structure_id, name)

    async def of(self, directory: DirectoryApi, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        wanted = set(ids)
        missing = [i for i in wanted if self._fresh(i) is None]
        await asyncio.gather(*(self._fetch(directory, i) for i in missing))
        return {i: self._fresh(i) or GONE for i in wanted}
