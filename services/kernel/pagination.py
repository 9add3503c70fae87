"""Keyset (cursor) pagination: opaque cursors over (sort key…, id), stable under inserts."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import msgspec

from services.kernel.inputs import INT64
from services.kernel.problems import query_error

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next: str | None = None
    next_cursor: str | None = None


def encode_cursor(values: Sequence[Any]) -> str:
    raw = msgspec.json.encode(list(values))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, types: Sequence[type]) -> list[Any]:
    """Decode and type-check a cursor; anything else is a 400 naming ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = msgspec.json.decode(raw, type=tuple[tuple(types)])  # type: ignore[misc]
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError, TypeError):
        raise query_error("cursor", "curseur invalide ou périmé") from None
    # A forged cursor is input like any other: what the database cannot compare is refused.
    for value in values:
        if (isinstance(value, str) and "\x00" in value) or (
            isinstance(value, int) and not INT64[0] <= value <= INT64[1]
        ):
            raise query_error("cursor", "curseur invalide ou périmé")
    return list(values)


def check_limit(limit: int) -> int:
    if limit < 1 or limit > MAX_LIMIT:
        raise query_error("limit", f"doit être compris entre 1 et {MAX_LIMIT}")
    return limit


def next_link(base_url: str, path: str, params: dict[str, Any], cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = {k: v for k, v in params.items() if v is not None and k != "cursor"}
    query["cursor"] = cursor
    return f"{base_url.rstrip('/')}{path}?{urlencode(query, doseq=True)}"
