"""Writing an import: existing entries read back by key, differences written in bulk, with the
history rows and outbox events the native API's writes make."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.domain.positions import GEOCODE_VOID, voids_geocode
from services.directory.importer.bulk import Bulk, table_of
from services.directory.importer.documents import Background, Documents, created_documents
from services.directory.importer.parsing import ParsedServices
from services.directory.importer.report import ImportReport
from services.directory.interop.datainclusion import fields as di_fields
from services.directory.interop.datainclusion.fields import RowError, ServiceRecord, StructureRecord
from services.directory.models import HistoryEntry, OutboxEvent, Service, ServiceZone, Structure
from services.directory.search import indexing
from services.kernel.db import new_uuid, table_statistics

IMPORT_STATUS = "published"
CREATE = "import-create"
UPDATE = "import-update"


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


class Upsert:
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
        self.bulk = Bulk(session)

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

    def out_of_scope(self, kind: di_fields.Kind, row: int, source_id: str, field: str) -> RowError:
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
        table = table_of(model)
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
        existing = await self._existing(
            Structure, records.keys(), list(di_fields.STRUCTURE_COLUMNS)
        )
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
                self.report.reject(counts, [error])
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
                    updates.append(self._update_row(entity_id, version, values, changes))
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
        self,
        entity_id: uuid.UUID,
        version: int,
        values: Mapping[str, Any],
        changes: Mapping[str, Any],
    ) -> dict[str, Any]:
        row = {
            "id": entity_id,
            "version": version,
            "updated_at": self.now,
            "updated_by": self.actor,
            **values,
        }
        if voids_geocode(changes):
            # Found for the former address: the geocoder's job looks the new one up.
            row.update(GEOCODE_VOID)
        return row

    async def _write(
        self,
        model: type[Structure] | type[Service],
        inserts: Sequence[dict[str, Any]],
        updates: Sequence[dict[str, Any]],
    ) -> None:
        table = table_of(model)
        await self.bulk.insert(table, inserts)
        # ``Bulk.update`` sets the same columns in every row: one call per set of columns (rows
        # whose address changed also clear their geocoded position).
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in updates:
            by_columns.setdefault(tuple(row), []).append(row)
        for rows in by_columns.values():
            await self.bulk.update(table, rows)
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
            [*di_fields.SERVICE_COLUMNS, "structure_id"],
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
                self.report.reject(counts, [error])
                continue
            current = existing.get((record.source, record.source_id))
            if self.allowed is not None and (
                structure != self.allowed
                or (current is not None and current["structure_id"] != self.allowed)
            ):
                error = self.out_of_scope("service", record.row, record.source_id, "structure_id")
                self.report.reject(counts, [error])
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
            updates.append(self._update_row(entity_id, version, values, changes))
            self.record("service", entity_id, structure, UPDATE, changes)
            counts.updated += 1
            changed.append(entity_id)
        await self._write(Service, inserts, updates)
        zone_table = table_of(ServiceZone)
        await self.bulk.delete(zone_table, "service_id", replaced_zones)
        await self.bulk.insert(zone_table, zone_rows)
        await self.statistics.wrote(zone_table.name, len(zone_rows))
        return changed

    async def import_services(
        self,
        parsed: ParsedServices,
        structure_ids: Mapping[tuple[str, str], uuid.UUID | list[RowError]],
        search: indexing.IndexRefresh,
        background: Background,
    ) -> list[asyncio.Future[Documents]]:
        """Write one chunk of parsed services and index it: updated services read back from
        the database now, new ones from the rows just written, in a worker thread (the
        returned future, for ``search.add_documents``)."""
        for errors in parsed.rejected:
            self.report.reject(self.report.services, errors)
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
        return [background.start(created_documents, created, structures)]

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
            table_of(ServiceZone), "service_id", service_ids, ["service_id", "zone"]
        )
        for row in rows:
            zones.setdefault(row["service_id"], []).append(row["zone"])
        for found in zones.values():
            found.sort()
        return zones

    async def flush_side_tables(self) -> None:
        await self.bulk.insert(table_of(HistoryEntry), self.history)
        await self.bulk.insert(table_of(OutboxEvent), self.events)
        self.history = []
        self.events = []
