"""Meilisearch backend (when MEILI_URL is set)."""

from __future__ import annotations

from typing import Any

from services.directory.search.backend import SearchBackend


def primary_backend(state: Any) -> SearchBackend | None:
    backend: SearchBackend | None = getattr(state, "search_primary", None)
    return backend
