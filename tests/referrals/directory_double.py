"""A tiny stand-in for the directory's public read API (docs/contracts.md), for tests only.

Used while the directory service lacks an endpoint the referrals tests need; it serves the same
paths and fields, from dictionaries the test fills.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Litestar, Response, get


class DirectoryDouble:
    def __init__(self) -> None:
        self.structures: dict[uuid.UUID, dict[str, Any]] = {}
        self.services: dict[uuid.UUID, dict[str, Any]] = {}
        self.fail_with: int | None = None

        @get("/directory/v1/structures/{structure_id:uuid}", sync_to_thread=False)
        def structure(structure_id: uuid.UUID) -> Response[Any]:
            return self._answer(self.structures.get(structure_id))

        @get("/directory/v1/services/{service_id:uuid}", sync_to_thread=False)
        def service(service_id: uuid.UUID) -> Response[Any]:
            return self._answer(self.services.get(service_id))

        self.app = Litestar([structure, service])

    def _answer(self, item: dict[str, Any] | None) -> Response[Any]:
        if self.fail_with is not None:
            return Response({"status": self.fail_with}, status_code=self.fail_with)
        if item is None:
            return Response(
                {"status": 404, "title": "Ressource introuvable"},
                status_code=404,
                media_type="application/problem+json",
            )
        return Response(item)
