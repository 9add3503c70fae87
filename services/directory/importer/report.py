"""The outcome of an import: counts per kind and every rejected row's errors."""

from __future__ import annotations

import msgspec

from services.directory.interop.datainclusion.fields import RowError


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

    def reject(self, counts: KindCounts, errors: list[RowError]) -> None:
        """One rejected row (of the kind ``counts`` counts) and its errors."""
        counts.rejected += 1
        self.errors.extend(errors)
