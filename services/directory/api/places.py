"""Places (reception points of a structure): list, read, create, update, archive, verify,
publish, suspend, history."""

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
from services.directory.api.structures import Cursor, Limit, history_page
from services.directory.domain.moderation import Action
from services.directory.domain.validation import check_place
from services.directory.store import lists, reads, writes
from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.errors import FieldError
from services.kernel.identity import Caller, Scope
from services.kernel.openapi import IF_MATCH, OPTIONAL, REQUIRED
from services.kernel.pagination import Page, check_limit
from services.kernel.problems import ProblemError


async def _visible(
    session: AsyncSession, caller: Caller | None, place_id: uuid.UUID
) -> tuple[m.Place, uuid.UUID | None]:
    row = await reads.get(session, m.Place, place_id)
    if row is None:
        raise c.not_found("Lieu")
    parent_id = (await reads.parents_of(session, [row.structure_id])).get(row.structure_id)
    if not c.can_see(caller, row.status, row.structure_id, parent_id):
        raise c.not_found("Lieu")
    return row, parent_id


def _read(request: Request[Any, Any, Any], row: m.Place) -> s.PlaceRead:
    settings = c.settings_of(request.app.state)
    return render.place_read(row, now=c.now(), review_days=settings.directory_review_period_days)


def _one(request: Request[Any, Any, Any], row: m.Place) -> Response[s.PlaceRead]:
    return Response(_read(request, row), headers=c.etag_header(row))


class PlaceController(Controller):
    path = f"{c.PREFIX}/places"
    opt = {CLIENT_SCOPES: ClientScopes(write=Scope.DIRECTORY_WRITE)}  # noqa: RUF012
    tags = ["places"]  # noqa: RUF012

    @get(operation_id="ListPlaces", summary="Lister les lieux d'accueil")
    async def list_places(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller | None,
        limit: Limit = 50,
        cursor: Cursor = None,
        status: c.Statuses = None,
        structure_id: uuid.UUID | None = None,
        commune: Annotated[str | None, Parameter(description="code INSEE")] = None,
        updated_since: Annotated[
            datetime | None,
            Parameter(description="modifiés depuis (RFC 3339) ; tri par date de mise à jour"),
        ] = None,
        stale: c.Stale = None,
        verified: c.Verified = None,
    ) -> Page[s.PlaceRead]:
        query = lists.ListQuery(
            limit=check_limit(limit),
            statuses=c.statuses(status),
            structure_id=structure_id,
            commune=c.commune_param(commune),
            updated_since=updated_since,
        )
        c.review_filters(
            query, request, stale=stale, verified=verified, link_state=None, network=None
        )
        query.cursor = c.decode(cursor, by_update=query.by_update)
        rows, keyset = await lists.list_entities(session, m.Place, query, c.reader(caller))
        next_cursor = c.encode(keyset)
        return Page(
            items=[_read(request, r) for r in rows],
            next=c.link(request, next_cursor),
            next_cursor=next_cursor,
        )

    @post(operation_id="CreatePlace", summary="Créer un lieu d'accueil", status_code=201)
    async def create_place(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        data: s.PlaceCreate,
    ) -> Response[s.PlaceRead]:
        structure = await reads.get(session, m.Structure, data.structure_id)
        if structure is None or not c.can_see(
            authenticated, structure.status, structure.id, structure.parent_id
        ):
            raise c.invalid([FieldError("structure_id", "structure inconnue")])
        who = c.actor(authenticated, structure.id, structure.parent_id)
        if structure.status == "archived":
            raise ProblemError(
                409, "La structure est archivée : on ne peut plus y ajouter de lieu."
            )
        status = c.check_initial(data.status, who)
        values, errors = check_place(c.to_values(data))
        if errors:
            raise c.invalid(errors)
        values["status"] = status
        try:
            row = await writes.create(session, m.Place, values, c.store_actor(authenticated))
        except writes.SourceConflict:
            raise c.source_conflict() from None
        response = _one(request, row)
        response.status_code = 201
        response.headers["Location"] = f"{c.PREFIX}/places/{row.id}"
        return response

    @get(
        "/{place_id:uuid}",
        operation_id="GetPlace",
        summary="Lire un lieu d'accueil",
        responses=c.NOT_MODIFIED,
    )
    async def get_place(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller | None,
        place_id: uuid.UUID,
    ) -> Response[s.PlaceRead]:
        row, _ = await _visible(session, caller, place_id)
        return c.read_response(request, row, _read(request, row))

    @patch(
        "/{place_id:uuid}",
        operation_id="UpdatePlace",
        summary="Modifier un lieu d'accueil",
        opt={IF_MATCH: REQUIRED},
    )
    async def update_place(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        place_id: uuid.UUID,
        data: s.PlaceUpdate,
    ) -> Response[s.PlaceRead]:
        """Champs absents : inchangés ; `null` : effacés. En-tête `If-Match` obligatoire."""
        row, parent_id = await _visible(session, authenticated, place_id)
        c.check(row.status, Action.EDIT, c.actor(authenticated, row.structure_id, parent_id))
        expected = c.expected_version(request, row, required=True)
        patch_values = c.to_values(data)
        merged = {name: getattr(row, name) for name in s.PlaceUpdate.__struct_fields__}
        merged.update(patch_values)
        values, errors = check_place(merged, set(patch_values))
        if errors:
            raise c.invalid(errors)
        changed = {k: values[k] for k in set(patch_values) | {"commune"} if k in values}
        try:
            row = await writes.update(
                session, row, changed, c.store_actor(authenticated), expected_version=expected
            )
        except writes.VersionConflict as exc:
            raise c.stale(exc.current) from None
        return _one(request, row)

    @delete(
        "/{place_id:uuid}",
        operation_id="ArchivePlace",
        summary="Archiver un lieu d'accueil",
        status_code=200,
        opt={IF_MATCH: REQUIRED},
    )
    async def archive_place(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        place_id: uuid.UUID,
    ) -> Response[s.PlaceRead]:
        return await self._status(
            request, session, authenticated, place_id, Action.ARCHIVE, required=True
        )

    @post(
        "/{place_id:uuid}/verify",
        operation_id="VerifyPlace",
        summary="Confirmer que la fiche est à jour",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
    )
    async def verify_place(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        place_id: uuid.UUID,
    ) -> Response[s.PlaceRead]:
        row, parent_id = await _visible(session, authenticated, place_id)
        c.check(row.status, Action.VERIFY, c.actor(authenticated, row.structure_id, parent_id))
        expected = c.expected_version(request, row, required=False)
        try:
            row = await writes.verify(
                session, row, c.store_actor(authenticated), expected_version=expected
            )
        except writes.VersionConflict as exc:
            raise c.stale(exc.current) from None
        return _one(request, row)

    @post(
        "/{place_id:uuid}/publish",
        operation_id="PublishPlace",
        summary="Publier un lieu d'accueil",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
    )
    async def publish_place(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        place_id: uuid.UUID,
    ) -> Response[s.PlaceRead]:
        return await self._status(request, session, authenticated, place_id, Action.PUBLISH)

    @post(
        "/{place_id:uuid}/unpublish",
        operation_id="UnpublishPlace",
        summary="Retirer un lieu d'accueil de l'annuaire (retour en brouillon)",
        description=(
            "Its owners (or a moderator) take a published entry off the public directory: it "
            "goes back to `draft`, still visible to its structure, and `publish` puts it back. "
            "A suspended entry stays the moderators' call (409)."
        ),
        status_code=200,
    )
    async def unpublish_place(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        place_id: uuid.UUID,
    ) -> Response[s.PlaceRead]:
        return await self._status(request, session, authenticated, place_id, Action.UNPUBLISH)

    @post(
        "/{place_id:uuid}/suspend",
        operation_id="SuspendPlace",
        summary="Suspendre un lieu d'accueil (modération)",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
    )
    async def suspend_place(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        place_id: uuid.UUID,
    ) -> Response[s.PlaceRead]:
        return await self._status(request, session, authenticated, place_id, Action.SUSPEND)

    @get(
        "/{place_id:uuid}/history",
        operation_id="PlaceHistory",
        summary="Historique des modifications",
    )
    async def place_history(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller | None,
        place_id: uuid.UUID,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[s.HistoryRead]:
        await _visible(session, caller, place_id)
        return await history_page(request, session, place_id, limit, cursor)

    async def _status(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller,
        place_id: uuid.UUID,
        action: Action,
        *,
        required: bool = False,
    ) -> Response[s.PlaceRead]:
        row, parent_id = await _visible(session, caller, place_id)
        target = c.check(row.status, action, c.actor(caller, row.structure_id, parent_id))
        expected = c.expected_version(request, row, required=required)
        try:
            row = await writes.set_status(
                session, row, target, action.value, c.store_actor(caller), expected_version=expected
            )
        except writes.VersionConflict as exc:
            raise c.stale(exc.current) from None
        return _one(request, row)
