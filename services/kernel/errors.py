"""Field-level validation errors, free of any web framework.

Domain modules (which may not import litestar) build these; ``services.kernel.problems``
re-exports ``FieldError`` and turns a list of them into one problem+json answer.
"""

from __future__ import annotations

from typing import Any

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    field: str
    reason: str
    source: str = "body"
    value: Any = msgspec.UNSET
