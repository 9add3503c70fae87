"""Structures: list, read, create, update (If-Match), archive, verify, publish, suspend, history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory import models as m
from services.directory import render
from services.directory import schemas as s
from services.directory.api import _common as c
from services.directory.domain.moderation import Action, Actor
from services.directory.domain.validation import check_structure
from services.directory.store import lists, reads, writes
from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.errors import FieldError
from services.kernel.identity import Caller, Scope
from services.kernel.openapi import IF_MATCH, OPTIONAL, REQUIRED
from services.kernel.pagination import Page, check_limit
from services.kernel.problems import ProblemError

Limit = Annotated[int, Parameter(ge=1, le=200, description="taille de page (1–200)")]
Cursor = Annotated[str | None, Parameter(description="curseur opaque de la page suivante")]


async def _load(session: AsyncSession, structure_id: uuid.UUID) -> m.Structure:
    row = await reads.get(session, m.Structure, structure_id)
    if row is None:
        raise c.not_found("Structure")
    return row


async def _visible(
    session: AsyncSession, caller: Caller | None, structure_id: uuid.UUID
) -> m.Structure:
    row = await _load(session, structure_id)
    if not c.can_see(caller, row.status, row.id, row.parent_id):
        raise c.not_found("Structure")
    return row


async def read(
    session: AsyncSession, request: Request[Any, Any, Any], caller: Caller | None, row: m.Structure
) -> s.StructureRead:
    settings = c.settings_of(request.app.state)
    links = (await reads.link_checks(session, [row.id])).get(row.id, [])
    return render.structure_read(
        row,
        now=c.now(),
        review_days=settings.directory_review_period_days,
        insider=c.is_insider(caller, row.id, row.parent_id),
        links=links,
    )


async def _check_parent(
    session: AsyncSession, parent_id: uuid.UUID | None, self_id: uuid.UUID | None
) -> list[FieldError]:
    if parent_id is None:
        return []
    if parent_id == self_id:
        return [FieldError("parent_id", "une structure ne peut pas être sa propre parente")]
    parent = await reads.get(session, m.Structure, parent_id)
    if parent is None or parent.status == "archived":
        return [FieldError("parent_id", "structure parente inconnue ou archivée", value=parent_id)]
    if parent.parent_id is not None:
        return [
            FieldError(
                "parent_id",
                "la structure parente est elle-même rattachée à une autre : "
                "un seul niveau de sites est possible",
            )
        ]
    if self_id is not None:
        children = await lists.list_entities(
            session,
            m.Structure,
            lists.ListQuery(limit=1, parent_id=self_id, statuses=c.STATUS_VALUES),
            lists.Reader(moderator=True),
        )
        if children[0]:
            return [
                FieldError(
                    "parent_id", "cette structure a des sites : elle ne peut pas en devenir un"
                )
            ]
    return []


class StructureController(Controller):
    path = f"{c.PREFIX}/structures"
    opt = {CLIENT_SCOPES: ClientScopes(write=Scope.DIRECTORY_WRITE)}  # noqa: RUF012
    tags = ["structures"]  # noqa: RUF012

    @get(operation_id="ListStructures", summary="Lister les structures")
    async def list_structures(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller | None,
        limit: Limit = 50,
        cursor: Cursor = None,
        status: c.Statuses = None,
        parent_id: uuid.UUID | None = None,
        commune: Annotated[str | None, Parameter(description="code INSEE")] = None,
        updated_since: Annotated[
            datetime | None,
            Parameter(description="modifiées depuis (RFC 3339) ; tri par date de mise à jour"),
        ] = None,
        network: c.Network = None,
        stale: c.Stale = None,
        verified: c.Verified = None,
        link_state: c.LinkState = None,
    ) -> Page[s.StructureRead]:
        """Structures visibles par l'appelant, paginées par curseur (stable aux insertions)."""
        query = lists.ListQuery(
            limit=check_limit(limit),
            statuses=c.statuses(status),
            parent_id=parent_id,
            commune=c.commune_param(commune),
            updated_since=updated_since,
        )
        c.review_filters(
            query,
            request,
            stale=stale,
            verified=verified,
            link_state=link_state,
            network=network,
        )
        query.cursor = c.decode(cursor, by_update=query.by_update)
        rows, keyset = await lists.list_entities(session, m.Structure, query, c.reader(caller))
        settings = c.settings_of(request.app.state)
        checks = await reads.link_checks(session, [r.id for r in rows])
        items = [
            render.structure_read(
                r,
                now=c.now(),
                review_days=settings.directory_review_period_days,
                insider=c.is_insider(caller, r.id, r.parent_id),
                links=checks.get(r.id, []),
            )
            for r in rows
        ]
        next_cursor = c.encode(keyset)
        return Page(items=items, next=c.link(request, next_cursor), next_cursor=next_cursor)

    @post(operation_id="CreateStructure", summary="Créer une structure", status_code=201)
    async def create_structure(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        data: s.StructureCreate,
    ) -> Response[s.StructureRead]:
        """Modération : toute structure. Administrateur d'une structure (ou client
        `directory:write` lié à elle) : ses sites (`parent_id` = sa structure)."""
        who = (
            c.actor(authenticated, data.parent_id, None)
            if data.parent_id is not None
            else (Actor.MODERATOR if authenticated.is_moderator else Actor.OTHER)
        )
        if who is Actor.OTHER:
            raise ProblemError(
                403,
                "Seule la modération crée une structure ; un administrateur crée les sites "
                "de sa propre structure (parent_id).",
            )
        status = c.check_initial(data.status, who)
        values, errors = check_structure(c.to_values(data))
        errors += await _check_parent(session, data.parent_id, None)
        if errors:
            raise c.invalid(errors)
        values["status"] = status
        try:
            row = await writes.create(session, m.Structure, values, c.store_actor(authenticated))
        except writes.SourceConflict:
            raise c.source_conflict() from None
        body = await read(session, request, authenticated, row)
        return Response(
            body,
            status_code=201,
            headers={**c.etag_header(row), "Location": f"{c.PREFIX}/structures/{row.id}"},
        )

    @get(
        "/{structure_id:uuid}",
        operation_id="GetStructure",
        summary="Lire une structure",
        responses=c.NOT_MODIFIED,
    )
    async def get_structure(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller | None,
        structure_id: uuid.UUID,
    ) -> Response[s.StructureRead]:
        row = await _visible(session, caller, structure_id)
        return c.read_response(request, row, await read(session, request, caller, row))

    @patch(
        "/{structure_id:uuid}",
        operation_id="UpdateStructure",
        summary="Modifier une structure",
        opt={IF_MATCH: REQUIRED},
    )
    async def update_structure(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        structure_id: uuid.UUID,
        data: s.StructureUpdate,
    ) -> Response[s.StructureRead]:
        """Champs absents : inchangés ; `null` : effacés. En-tête `If-Match` obligatoire."""
        row = await _visible(session, authenticated, structure_id)
        who = c.actor(authenticated, row.id, row.parent_id)
        c.check(row.status, Action.EDIT, who)
        expected = c.expected_version(request, row, required=True)
        patch_values = c.to_values(data)
        errors: list[FieldError] = []
        if "parent_id" in patch_values and patch_values["parent_id"] != row.parent_id:
            new_parent = patch_values["parent_id"]
            if who is not Actor.MODERATOR and (
                new_parent is None or c.actor(authenticated, new_parent, None) is Actor.OTHER
            ):
                raise ProblemError(
                    403, "Changer la structure parente demande d'administrer la nouvelle parente."
                )
            errors += await _check_parent(session, new_parent, row.id)
        merged = {name: getattr(row, name) for name in s.StructureUpdate.__struct_fields__}
        merged.update(patch_values)
        values, field_errors = check_structure(merged, set(patch_values))
        errors = field_errors + errors
        if errors:
            raise c.invalid(errors)
        changed = {k: values[k] for k in set(patch_values) | {"commune"} if k in values}
        try:
            row = await writes.update(
                session, row, changed, c.store_actor(authenticated), expected_version=expected
            )
        except writes.VersionConflict as exc:
            raise c.stale(exc.current) from None
        return Response(
            await read(session, request, authenticated, row), headers=c.etag_header(row)
        )

    @delete(
        "/{structure_id:uuid}",
        operation_id="ArchiveStructure",
        summary="Archiver une structure (et ses services et lieux)",
        status_code=200,
        opt={IF_MATCH: REQUIRED},
    )
    async def archive_structure(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        structure_id: uuid.UUID,
    ) -> Response[s.StructureRead]:
        """Archivage logique : la fiche reste lisible avec le statut `archived`."""
        return await self._status(
            request, session, authenticated, structure_id, Action.ARCHIVE, required=True
        )

    @post(
        "/{structure_id:uuid}/verify",
        operation_id="VerifyStructure",
        summary="Confirmer que la fiche est à jour",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
    )
    async def verify_structure(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        structure_id: uuid.UUID,
    ) -> Response[s.StructureRead]:
        row = await _visible(session, authenticated, structure_id)
        c.check(row.status, Action.VERIFY, c.actor(authenticated, row.id, row.parent_id))
        expected = c.expected_version(request, row, required=False)
        try:
            row = await writes.verify(
                session, row, c.store_actor(authenticated), expected_version=expected
            )
        except writes.VersionConflict as exc:
            raise c.stale(exc.current) from None
        return Response(
            await read(session, request, authenticated, row), headers=c.etag_header(row)
        )

    @post(
        "/{structure_id:uuid}/publish",
        operation_id="PublishStructure",
        summary="Publier une structure",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
    )
    async def publish_structure(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        structure_id: uuid.UUID,
    ) -> Response[s.StructureRead]:
        return await self._status(request, session, authenticated, structure_id, Action.PUBLISH)

    @post(
        "/{structure_id:uuid}/unpublish",
        operation_id="UnpublishStructure",
        summary="Retirer une structure de l'annuaire (retour en brouillon)",
        description=(
            "Its owners (or a moderator) take a published entry off the public directory: it "
            "goes back to `draft`, still visible to its structure, and `publish` puts it back. "
            "A suspended entry stays the moderators' call (409)."
        ),
        status_code=200,
    )
    async def unpublish_structure(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        structure_id: uuid.UUID,
    ) -> Response[s.StructureRead]:
        return await self._status(request, session, authenticated, structure_id, Action.UNPUBLISH)

    @post(
        "/{structure_id:uuid}/suspend",
        operation_id="SuspendStructure",
        summary="Suspendre une structure (modération)",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
    )
    async def suspend_structure(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        structure_id: uuid.UUID,
    ) -> Response[s.StructureRead]:
        return await self._status(request, session, authenticated, structure_id, Action.SUSPEND)

    @get(
        "/{structure_id:uuid}/history",
        operation_id="StructureHistory",
        summary="Historique des modifications",
    )
    async def structure_history(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller | None,
        structure_id: uuid.UUID,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[s.HistoryRead]:
        await _visible(session, caller, structure_id)
        return await history_page(request, session, structure_id, limit, cursor)

    async def _status(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller,
        structure_id: uuid.UUID,
        action: Action,
        *,
        required: bool = False,
    ) -> Response[s.StructureRead]:
        row = await _visible(session, caller, structure_id)
        target = c.check(row.status, action, c.actor(caller, row.id, row.parent_id))
        expected = c.expected_version(request, row, required=required)
        try:
            row = await writes.set_status(
                session, row, target, action.value, c.store_actor(caller), expected_version=expected
            )
        except writes.VersionConflict as exc:
            raise c.stale(exc.current) from None
        return Response(await read(session, request, caller, row), headers=c.etag_header(row))


async def history_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    entity_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> Page[s.HistoryRead]:
    after = c.decode(cursor, by_update=False)
    rows, last = await reads.history(
        session, entity_id, limit=check_limit(limit), after=after[0] if after else None
    )
    next_cursor = c.encode((last,) if last else None)
    return Page(
        items=[render.history_read(r) for r in rows],
        next=c.link(request, next_cursor),
        next_cursor=next_cursor,
    )
