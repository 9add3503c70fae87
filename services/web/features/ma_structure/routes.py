"""Ma structure: keep the structure's entries true — edit (API messages next to the fields),
capacity in one click, « à jour », publish / unpublish, and concurrent edits (412) shown.

Forms post, then redirect (PRG); an error or a conflict answers the form again with what the
person typed, the API's messages and, for a conflict, what the other person changed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post

from services.web.clients.base import ApiError
from services.web.clients.directory import DirectoryApi, Kind, Place, Service, Structure
from services.web.deps import Form, one
from services.web.features.connexion.routes import see_other
from services.web.features.ma_structure.forms import (
    FORMS,
    changed_since,
    changes_of,
    field_of,
    form_errors,
    typed_values,
    values_of,
)
from services.web.features.ma_structure.hours_form import editor_of, labels_of
from services.web.rendering import render
from services.web.sessions import Staff

# URL segment -> API collection, and the words of each kind.
KINDS: dict[str, Kind] = {"fiche": "structures", "services": "services", "lieux": "places"}
TITLES = {"structures": "la fiche de la structure", "services": "le service", "places": "le lieu"}
ACTIONS = {"verifier": "verify", "publier": "publish", "retirer": "unpublish"}
MESSAGES = {
    "enregistre": "Modifications enregistrées.",
    "verifie": "Merci : les informations sont confirmées à jour aujourd’hui.",
    "publie": "C’est publié : visible dans l’annuaire.",
    "retire": "Retiré de l’annuaire : c’est de nouveau un brouillon, à republier au besoin.",
    "capacite": "Disponibilité mise à jour.",
}
DONE = {"verify": "verifie", "publish": "publie", "unpublish": "retire"}
CAPACITIES = ("accepting", "waiting_list", "full")


def _mine(staff: Staff) -> uuid.UUID:
    assert staff.structure_id is not None
    return staff.structure_id


class MaStructure(Controller):
    path = "/ma-structure"
    include_in_schema = False

    @get()
    async def overview(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        directory: DirectoryApi,
        message: str = "",
    ) -> Response[Any]:
        if staff.structure_id is None:
            return see_other("/")
        everything = ("draft", "published", "suspended")
        (structure, _), services, places = await asyncio.gather(
            directory.structure(staff.structure_id),
            directory.services_of(staff.structure_id, everything),
            directory.places_of(staff.structure_id, everything),
        )
        return render(
            request,
            "ma_structure/apercu.html",
            title="Ma structure",
            structure=structure,
            services=services,
            places=places,
            message=MESSAGES.get(message),
            capacities=CAPACITIES,
        )

    async def _load(
        self, directory: DirectoryApi, kind: Kind, entry_id: uuid.UUID, staff: Staff
    ) -> tuple[Any, str]:
        entry: Structure | Service | Place
        if kind == "structures":
            entry, etag = await directory.structure(entry_id)
        elif kind == "services":
            entry, etag = await directory.service(entry_id)
        else:
            entry, etag = await directory.place(entry_id)
        owner = entry.id if isinstance(entry, Structure) else entry.structure_id
        if owner != staff.structure_id:
            raise ApiError.not_found()
        return entry, etag

    def _form(
        self,
        request: Request[Any, Any, Any],
        segment: str,
        entry: Any,
        etag: str,
        values: dict[str, Any],
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        conflict: list[tuple[str, str, str]] | None = None,
        message: str | None = None,
        loaded_at: datetime | None = None,
    ) -> Response[Any]:
        kind = KINDS[segment]
        specs = FORMS[kind]
        return render(
            request,
            "ma_structure/modifier.html",
            status=status,
            title=f"Modifier {TITLES[kind]}",
            entry=entry,
            segment=segment,
            specs=specs,
            values=values,
            etag=etag,
            loaded_at=(loaded_at or entry.updated_at).isoformat()
            if (loaded_at or entry.updated_at)
            else "",
            errors=errors or {},
            field_labels=_labels(specs),
            conflict=conflict,
            message=message,
            action=_edit_url(segment, entry.id),
        )

    @get("/{segment:str}/{entry_id:uuid}")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        directory: DirectoryApi,
        segment: str,
        entry_id: uuid.UUID,
        message: str = "",
        horaires: str = "",
    ) -> Response[Any]:
        """The form; ``?horaires=tableau``: the opening hours as rows per day even when the
        stored value says more than the rows can (it is replaced when saved)."""
        if segment not in KINDS:
            raise ApiError.not_found()
        kind = KINDS[segment]
        entry, etag = await self._load(directory, kind, entry_id, staff)
        values = values_of(FORMS[kind], entry)
        if horaires == "tableau":
            values["opening_hours"] = editor_of(entry.opening_hours, rows=True)
        return self._form(
            request,
            segment,
            entry,
            etag,
            values,
            message=MESSAGES.get(message),
        )

    @post("/{segment:str}/{entry_id:uuid}", status_code=303)
    async def save(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        directory: DirectoryApi,
        form: Form,
        segment: str,
        entry_id: uuid.UUID,
    ) -> Response[Any]:
        if segment not in KINDS:
            raise ApiError.not_found()
        kind = KINDS[segment]
        specs = FORMS[kind]
        etag = one(form, "etag")

        async def refused(errors: dict[str, str]) -> Response[Any]:
            """The form again, with what was typed and why it was refused."""
            entry, current = await self._load(directory, kind, entry_id, staff)
            return self._form(
                request,
                segment,
                entry,
                etag or current,
                typed_values(specs, form),
                status=422,
                errors=errors,
            )

        mistakes = form_errors(specs, form)
        if mistakes:
            return await refused(mistakes)
        body = changes_of(specs, form)
        try:
            if kind == "structures":
                await directory.update_structure(entry_id, etag, body)
            elif kind == "services":
                await directory.update_service(entry_id, etag, body)
            else:
                await directory.update_place(entry_id, etag, body)
        except ApiError as exc:
            if exc.status == 412:
                return await self._conflict(request, staff, directory, segment, entry_id, form)
            if exc.status not in (400, 422):
                raise
            errors: dict[str, str] = {}
            for name, reason in exc.field_errors().items():
                errors.setdefault(field_of(name), reason)
            if not errors:
                errors["name"] = exc.problem.detail or "valeur refusée"
            return await refused(errors)
        return see_other(f"{_edit_url(segment, entry_id)}?message=enregistre")

    async def _conflict(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        directory: DirectoryApi,
        segment: str,
        entry_id: uuid.UUID,
        form: Form,
    ) -> Response[Any]:
        """Someone saved first: show what they changed, keep what this person typed, and
        offer to save again over the new version."""
        kind = KINDS[segment]
        entry, etag = await self._load(directory, kind, entry_id, staff)
        try:
            since: datetime | None = datetime.fromisoformat(one(form, "loaded_at"))
        except ValueError:
            since = None
        history = await directory.history(kind, entry_id)
        return self._form(
            request,
            segment,
            entry,
            etag,
            typed_values(FORMS[kind], form),
            status=409,
            conflict=changed_since(history, since, FORMS[kind]),
            loaded_at=entry.updated_at,
        )

    @post("/capacite/{entry_id:uuid}", status_code=303)
    async def capacity(
        self,
        staff: Staff,
        directory: DirectoryApi,
        form: Form,
        entry_id: uuid.UUID,
    ) -> Response[Any]:
        """One click: the service's availability. The whole change is this one field, so the
        current version is taken (``If-Match: *``) rather than asking to reload."""
        wanted = one(form, "capacity_status")
        if wanted in CAPACITIES:
            await self._load(directory, "services", entry_id, staff)
            await directory.update_service(entry_id, "*", {"capacity_status": wanted})
        return see_other(_back(form, "capacite"))

    @post("/{segment:str}/{entry_id:uuid}/{action:str}", status_code=303)
    async def act(
        self,
        staff: Staff,
        directory: DirectoryApi,
        form: Form,
        segment: str,
        entry_id: uuid.UUID,
        action: str,
    ) -> Response[Any]:
        """« Je confirme que ces informations sont à jour », publier, retirer de l’annuaire."""
        if segment not in KINDS or action not in ACTIONS:
            raise ApiError.not_found()
        kind = KINDS[segment]
        await self._load(directory, kind, entry_id, staff)
        await directory.act(kind, entry_id, ACTIONS[action])
        return see_other(_back(form, DONE[ACTIONS[action]]))


def _labels(specs: tuple[Any, ...]) -> dict[str, str]:
    """Each field's words for the error summary; the opening hours' for each of their inputs."""
    found: dict[str, str] = {}
    for spec in specs:
        found.update(labels_of(spec.name, spec.label) if spec.kind == "hours" else {})
        found[spec.name] = spec.label
    return found


def _edit_url(segment: str, entry_id: uuid.UUID) -> str:
    return f"/ma-structure/{segment}/{entry_id}"


def _back(form: Form, message: str) -> str:
    """Back to the page the button was on (a Ma structure page, or the home page's review
    list), saying what was done."""
    back = one(form, "retour")
    if back != "/" and (not back.startswith("/ma-structure") or "//" in back or "?" in back):
        back = "/ma-structure"
    return f"{back}?message={message}"


ROUTES = [MaStructure]
