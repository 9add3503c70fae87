"""Services: list (filters), read, create, update (If-Match), archive, verify, publish, suspend,
history. Members-only contacts are hidden from outsiders (``contact_hidden`` says so)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory import models as m
from services.directory import render
from services.directory import schemas as s
from services.directory.api import _common as c
from services.directory.api.structures import Cursor, Limit, history_page
from services.directory.domain.moderation import Action
from services.directory.domain.validation import check_service
from services.directory.store import lists, reads, writes
from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.app import AUTOCOMMIT
from services.kernel.errors import FieldError
from services.kernel.identity import Caller, Scope
from services.kernel.openapi import IF_MATCH, OPTIONAL, REQUIRED
from services.kernel.pagination import Page, check_limit
from services.kernel.problems import ProblemError, query_error
from services.kernel.reference import taxonomy


class _Loaded:
    def __init__(self, row: m.Service, structure: reads.ServiceStructure) -> None:
        self.row = row
        self.structure = structure
        self.parent_id = structure.parent_id


async def _visible(session: AsyncSession, caller: Caller | None, service_id: uuid.UUID) -> _Loaded:
    found = await reads.service_with_parent(session, service_id)
    if found is None:
        raise c.not_found("Service")
    row, structure = found
    if not c.can_see(caller, row.status, row.structure_id, structure.parent_id):
        raise c.not_found("Service")
    return _Loaded(row, structure)


async def _visible_view(
    session: AsyncSession, caller: Caller | None, service_id: uuid.UUID
) -> sa.Row[Any]:
    """The service as ``reads.service_view`` reads it, when the caller may see it (else 404)."""
    view = await reads.service_view(session, service_id)
    if view is None or not c.can_see(
        caller, view.status, view.structure_id, view.structure_parent_id
    ):
        raise c.not_found("Service")
    return view


async def render_views(
    session: AsyncSession,
    request: Request[Any, Any, Any],
    caller: Caller | None,
    views: list[sa.Row[Any]],
) -> list[s.ServiceRead]:
    """Rows of ``lists.list_service_views`` / ``reads.service_view`` as ServiceRead; sessions and
    link checks are read (one statement each) only for the rows that have some."""
    settings = c.settings_of(request.app.state)
    sessions = await reads.sessions_of(session, [v.id for v in views if v.has_sessions])
    checks = await reads.link_checks(session, [v.id for v in views if v.has_links])
    now = c.now()
    fields = views[0]._fields if views else ()
    return [
        render.service_read(
            dict(zip(fields, v, strict=True)),
            now=now,
            review_days=settings.directory_review_period_days,
            insider=c.is_insider(caller, v.structure_id, v.structure_parent_id),
            zones=reads.view_zones(v),
            sessions=sessions.get(v.id, ()),
            links=checks.get(v.id, ()),
        )
        for v in views
    ]


async def _one(
    session: AsyncSession, request: Request[Any, Any, Any], caller: Caller | None, item: _Loaded
) -> Response[s.ServiceRead]:
    """The response of a write: the ORM row the transaction wrote (no reload)."""
    row = item.row
    checks = await reads.link_checks(session, [row.id])
    body = render.service_read(
        render.service_columns(row, item.structure),
        now=c.now(),
        review_days=c.settings_of(request.app.state).directory_review_period_days,
        insider=c.is_insider(caller, row.structure_id, item.parent_id),
        zones=sorted(z.zone for z in row.zones),
        sessions=row.sessions,
        links=checks.get(row.id, ()),
    )
    return Response(body, headers=c.etag_header(row))


async def _check_sessions(
    session: AsyncSession, structure_id: uuid.UUID, values: dict[str, Any]
) -> list[FieldError]:
    sessions = values.get("sessions") or []
    places = await reads.places_of(session, [x["place_id"] for x in sessions])
    errors = []
    for i, item in enumerate(sessions):
        place = places.get(item["place_id"])
        if place is None or place.structure_id != structure_id or place.status == "archived":
            errors.append(
                FieldError(
                    f"sessions[{i}].place_id",
                    "lieu inconnu ou n'appartenant pas à la structure du service",
                    value=str(item["place_id"]),
                )
            )
    return errors


def _thematiques(values: list[str] | None) -> list[str]:
    if not values:
        return []
    known = taxonomy("thematiques").values | taxonomy("categories-thematiques").values
    for value in values:
        if value not in known:
            raise query_error("thematique", f"valeur inconnue « {value} »")
    return values


class ServiceController(Controller):
    path = f"{c.PREFIX}/services"
    opt = {CLIENT_SCOPES: ClientScopes(write=Scope.DIRECTORY_WRITE)}  # noqa: RUF012
    tags = ["services"]  # noqa: RUF012

    # Reads without BEGIN/COMMIT: one statement for the page (and, for the few services that
    # have some, one for sessions and one for link states).
    @get(operation_id="ListServices", summary="Lister les services", opt={AUTOCOMMIT: True})
    async def list_services(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller | None,
        limit: Limit = 50,
        cursor: Cursor = None,
        status: c.Statuses = None,
        structure_id: uuid.UUID | None = None,
        thematique: Annotated[
            list[str] | None,
            Parameter(description="thématique ou catégorie (couvre ses sous-thématiques)"),
        ] = None,
        commune: Annotated[
            str | None,
            Parameter(description="code INSEE : services situés dans la commune ou la couvrant"),
        ] = None,
        updated_since: Annotated[
            datetime | None,
            Parameter(description="modifiés depuis (RFC 3339) ; tri par date de mise à jour"),
        ] = None,
        network: c.Network = None,
        stale: c.Stale = None,
        verified: c.Verified = None,
        link_state: c.LinkState = None,
        capacity_unconfirmed_days: c.CapacityUnconfirmedDays = None,
    ) -> Page[s.ServiceRead]:
        """Services visibles par l'appelant, paginés par curseur (stable aux insertions)."""
        query = lists.ListQuery(
            limit=check_limit(limit),
            statuses=c.statuses(status),
            structure_id=structure_id,
            thematiques=_thematiques(thematique),
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
            capacity_unconfirmed_days=capacity_unconfirmed_days,
        )
        query.cursor = c.decode(cursor, by_update=query.by_update)
        rows, keyset = await lists.list_service_views(session, query, c.reader(caller))
        items = await render_views(session, request, caller, rows)
        next_cursor = c.encode(keyset)
        return Page(items=items, next=c.link(request, next_cursor), next_cursor=next_cursor)

    @post(operation_id="CreateService", summary="Créer un service", status_code=201)
    async def create_service(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        data: s.ServiceCreate,
    ) -> Response[s.ServiceRead]:
        """Par un administrateur de la structure (ou de sa parente), un client
        `directory:write` lié à elle, ou la modération."""
        structure = await reads.get(session, m.Structure, data.structure_id)
        if structure is None or not c.can_see(
            authenticated, structure.status, structure.id, structure.parent_id
        ):
            raise c.invalid([FieldError("structure_id", "structure inconnue")])
        who = c.actor(authenticated, structure.id, structure.parent_id)
        if structure.status == "archived":
            raise ProblemError(
                409, "La structure est archivée : on ne peut plus y ajouter de service."
            )
        status = c.check_initial(data.status, who)
        values, errors = check_service(c.to_values(data))
        errors += await _check_sessions(session, structure.id, values)
        if errors:
            raise c.invalid(errors)
        values["status"] = status
        try:
            row = await writes.create(session, m.Service, values, c.store_actor(authenticated))
        except writes.SourceConflict:
            raise c.source_conflict() from None
        response = await _one(
            session, request, authenticated, _Loaded(row, reads.ServiceStructure.of(structure))
        )
        response.status_code = 201
        response.headers["Location"] = f"{c.PREFIX}/services/{row.id}"
        return response

    @get(
        "/{service_id:uuid}",
        operation_id="GetService",
        summary="Lire un service",
        responses=c.NOT_MODIFIED,
        opt={AUTOCOMMIT: True},
    )
    async def get_service(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller | None,
        service_id: uuid.UUID,
    ) -> Response[s.ServiceRead]:
        view = await _visible_view(session, caller, service_id)
        [body] = await render_views(session, request, caller, [view])
        return c.read_response(request, view, body)

    @patch(
        "/{service_id:uuid}",
        operation_id="UpdateService",
        summary="Modifier un service",
        opt={IF_MATCH: REQUIRED},
    )
    async def update_service(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        service_id: uuid.UUID,
        data: s.ServiceUpdate,
    ) -> Response[s.ServiceRead]:
        """Champs absents : inchangés ; `null` : effacés. En-tête `If-Match` obligatoire.
        `eligibility_zones` et `sessions` sont remplacées en entier."""
        item = await _visible(session, authenticated, service_id)
        row = item.row
        c.check(row.status, Action.EDIT, c.actor(authenticated, row.structure_id, item.parent_id))
        expected = c.expected_version(request, row, required=True)
        patch_values = c.to_values(data)
        merged: dict[str, Any] = {
            name: getattr(row, name)
            for name in s.ServiceUpdate.__struct_fields__
            if name not in ("eligibility_zones", "sessions", "appointment_slots")
        }
        merged["eligibility_zones"] = [z.zone for z in row.zones]
        merged["appointment_slots"] = row.appointment_slots
        merged.update(patch_values)
        values, errors = check_service(merged, set(patch_values))
        if "sessions" in patch_values:
            errors += await _check_sessions(session, row.structure_id, values)
        if errors:
            raise c.invalid(errors)
        changed = {k: values[k] for k in set(patch_values) | {"commune"} if k in values}
        try:
            row = await writes.update(
                session, row, changed, c.store_actor(authenticated), expected_version=expected
            )
        except writes.VersionConflict as exc:
            raise c.stale(exc.current) from None
        return await _one(session, request, authenticated, _Loaded(row, item.structure))

    @delete(
        "/{service_id:uuid}",
        operation_id="ArchiveService",
        summary="Archiver un service",
        status_code=200,
        opt={IF_MATCH: REQUIRED},
    )
    async def archive_service(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        service_id: uuid.UUID,
    ) -> Response[s.ServiceRead]:
        """Archivage logique : la fiche reste lisible avec le statut `archived`."""
        return await self._status(
            request, session, authenticated, service_id, Action.ARCHIVE, required=True
        )

    @post(
        "/{service_id:uuid}/verify",
        operation_id="VerifyService",
        summary="Confirmer que la fiche est à jour",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
    )
    async def verify_service(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        service_id: uuid.UUID,
    ) -> Response[s.ServiceRead]:
        item = await _visible(session, authenticated, service_id)
        row = item.row
        c.check(row.status, Action.VERIFY, c.actor(authenticated, row.structure_id, item.parent_id))
        expected = c.expected_version(request, row, required=False)
        try:
            row = await writes.verify(
                session, row, c.store_actor(authenticated), expected_version=expected
            )
        except writes.VersionConflict as exc:
            raise c.stale(exc.current) from None
        return await _one(session, request, authenticated, item)

    @post(
        "/{service_id:uuid}/publish",
        operation_id="PublishService",
        summary="Publier un service",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
    )
    async def publish_service(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        service_id: uuid.UUID,
    ) -> Response[s.ServiceRead]:
        return await self._status(request, session, authenticated, service_id, Action.PUBLISH)

    @post(
        "/{service_id:uuid}/unpublish",
        operation_id="UnpublishService",
        summary="Retirer un service de l'annuaire (retour en brouillon)",
        description=(
            "Its owners (or a moderator) take a published entry off the public directory: it "
            "goes back to `draft`, still visible to its structure, and `publish` puts it back. "
            "A suspended entry stays the moderators' call (409)."
        ),
        status_code=200,
    )
    async def unpublish_service(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        service_id: uuid.UUID,
    ) -> Response[s.ServiceRead]:
        return await self._status(request, session, authenticated, service_id, Action.UNPUBLISH)

    @post(
        "/{service_id:uuid}/suspend",
        operation_id="SuspendService",
        summary="Suspendre un service (modération)",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
    )
    async def suspend_service(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        service_id: uuid.UUID,
    ) -> Response[s.ServiceRead]:
        return await self._status(request, session, authenticated, service_id, Action.SUSPEND)

    @get(
        "/{service_id:uuid}/history",
        operation_id="ServiceHistory",
        summary="Historique des modifications",
    )
    async def service_history(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller | None,
        service_id: uuid.UUID,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[s.HistoryRead]:
        await _visible_view(session, caller, service_id)
        return await history_page(request, session, service_id, limit, cursor)

    async def _status(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        caller: Caller,
        service_id: uuid.UUID,
        action: Action,
        *,
        required: bool = False,
    ) -> Response[s.ServiceRead]:
        item = await _visible(session, caller, service_id)
        row = item.row
        target = c.check(row.status, action, c.actor(caller, row.structure_id, item.parent_id))
        expected = c.expected_version(request, row, required=required)
        try:
            row = await writes.set_status(
                session, row, target, action.value, c.store_actor(caller), expected_version=expected
            )
        except writes.VersionConflict as exc:
            raise c.stale(exc.current) from None
        return await _one(session, request, caller, item)
