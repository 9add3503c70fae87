"""Choosing the next partner inside the flow: the receiver relays (when the consent allows
onward relay), the sender re-orients after a refusal, a cancellation or an expiry. A search of
the annuaire, a choice, a confirmation with a comment, then one post."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from litestar import Controller, Request, Response, get, post

from services.web.clients.auth import AuthApi
from services.web.clients.base import ApiError
from services.web.clients.directory import DirectoryApi, SearchPage, ServiceHit
from services.web.clients.referrals import Referral, ReferralsApi
from services.web.deps import Form, one
from services.web.features.annuaire.routes import commune_label, resolve_commune
from services.web.features.connexion.routes import see_other
from services.web.features.orientations.actions import Pages, form_key, form_version, optional
from services.web.features.orientations.view import reference, side_of
from services.web.rendering import render
from services.web.sessions import Staff

Mode = Literal["relayer", "reorienter"]
RESULTS = 10


def _allowed(referral: Referral, staff: Staff, mode: Mode) -> bool:
    if mode == "reorienter":
        return "reorient" in referral.allowed_actions
    return "relay" in side_of(referral, staff.structure_id).receiver_actions


def _relay_covers(referral: Referral, structure_id: uuid.UUID) -> bool:
    """The API refuses a relay to a partner the consent leaves out (except back to the origin
    structure): the page says so instead of offering it."""
    consent = referral.consent
    return (
        structure_id == referral.structure_id
        or consent.further_partners
        or structure_id in consent.recipients
    )


def _target(form: Form) -> dict[str, Any]:
    return {"structure_id": one(form, "structure_id"), "service_id": optional(form, "service_id")}


class NextPartner(Controller):
    path = "/orientations/{referral_id:uuid}"
    include_in_schema = False

    async def _choose(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        referral_id: uuid.UUID,
        mode: Mode,
        q: str,
        commune: str,
        service: str,
    ) -> Response[Any]:
        referral = await referrals.referral(referral_id)
        if not _allowed(referral, staff, mode):
            return see_other(f"/orientations/{referral_id}")
        chosen = None
        if service:
            try:
                found, _ = await directory.service(uuid.UUID(service))
                (structure, _) = await directory.structure(found.structure_id)
                chosen = (found, structure)
            except (ValueError, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.status not in (403, 404):
                    raise
        place, candidates = await resolve_commune(directory, commune[:120])
        results: SearchPage[ServiceHit] | None = None
        if chosen is None and (q.strip() or place):
            results = await directory.search_services(
                {
                    "q": q.strip()[:200] or None,
                    "commune": place.code if place else None,
                    "limit": RESULTS,
                }
            )
        received = side_of(referral, staff.structure_id).received
        return render(
            request,
            "orientations/choisir.html",
            title=(
                "Relayer vers un autre partenaire"
                if mode == "relayer"
                else "Réorienter vers un autre partenaire"
            ),
            mode=mode,
            referral=referral,
            reference=reference(referral.id),
            handoff=received,
            q=q,
            commune=commune_label(place) if place else commune,
            candidates=candidates,
            commune_label=commune_label,
            results=results,
            chosen=chosen,
            mine=staff.structure_id,
            covers=lambda structure_id: mode != "relayer" or _relay_covers(referral, structure_id),
            key=uuid.uuid4().hex,
        )

    @get("/relayer")
    async def relay_choice(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        referral_id: uuid.UUID,
        q: str = "",
        commune: str = "",
        service: str = "",
    ) -> Response[Any]:
        return await self._choose(
            request, staff, referrals, directory, referral_id, "relayer", q, commune, service
        )

    @get("/reorienter")
    async def reorient_choice(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        referral_id: uuid.UUID,
        q: str = "",
        commune: str = "",
        service: str = "",
    ) -> Response[Any]:
        return await self._choose(
            request, staff, referrals, directory, referral_id, "reorienter", q, commune, service
        )

    @post("/transmissions/{handoff_id:uuid}/relayer", status_code=303)
    async def relay(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        auth: AuthApi,
        form: Form,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
    ) -> Response[Any]:
        body = {"target": _target(form), "comment": optional(form, "commentaire")}
        return await Pages(request, staff, referrals, directory, auth).attempt(
            referral_id,
            "relayer",
            form,
            lambda: referrals.transition(
                referral_id, handoff_id, form_version(form), "relay", form_key(form), body
            ),
            "relayee",
        )

    @post("/reorienter", status_code=303)
    async def reorient(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        auth: AuthApi,
        form: Form,
        referral_id: uuid.UUID,
    ) -> Response[Any]:
        body = {
            "target": _target(form),
            "add_recipient": one(form, "destinataire") == "1",
            "comment": optional(form, "commentaire"),
        }
        return await Pages(request, staff, referrals, directory, auth).attempt(
            referral_id,
            "reorienter",
            form,
            lambda: referrals.reorient(referral_id, form_key(form), body),
            "reorientee",
        )


ROUTES = [NextPartner]
