"""The forms of a referral's page: each posts once (its Idempotency-Key), with the version the
page showed (If-Match), then redirects to the page (post/redirect/get). When someone else acted
first (412, or 409 when the state no longer allows it) the page shows the new state with a
message; the API's refusals of a field (422) come back next to the field."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Request, Response, get, post

from services.web.clients.auth import AuthApi
from services.web.clients.base import ApiError
from services.web.clients.directory import DirectoryApi
from services.web.clients.referrals import ReferralsApi
from services.web.deps import Form, one
from services.web.features.connexion.routes import see_other
from services.web.features.orientations.view import reference, referral_page, side_of
from services.web.rendering import SECURITY_HEADERS, render
from services.web.sessions import Staff

# A transition's word in the URL -> (the API's action, the message key shown after it).
TRANSITIONS = {
    "accuser-reception": ("acknowledge", "accuse"),
    "accepter": ("accept", "acceptee"),
    "prendre-en-charge": ("take-over", "prise-en-charge"),
    "refuser": ("decline", "refusee"),
    "annuler": ("cancel", "annulee"),
}
# The API's field names -> the forms' (its messages go next to the right field).
FIELDS = {
    "reason": "motif",
    "comment": "commentaire",
    "outcome": "issue",
    "evaluation_score": "note",
    "evaluation_comment": "commentaire",
    "referent": "referent",
    "given_by": "qui",
    "method": "comment",
}
_KEY = re.compile(r"^[0-9a-f]{32}$")
Call = Callable[[], Awaitable[object]]


def form_key(form: Form) -> str:
    """The form's Idempotency-Key (a new one if the page sent none: then a double submission
    is not recognised, but nothing is lost)."""
    key = one(form, "cle")
    return key if _KEY.match(key) else uuid.uuid4().hex


def form_version(form: Form) -> int:
    value = one(form, "version")
    return int(value) if value.isdigit() and len(value) < 10 else 0  # 0: never current (412)


def optional(form: Form, name: str) -> str | None:
    return one(form, name) or None


def field_errors(exc: ApiError) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, reason in exc.field_errors().items():
        found.setdefault(FIELDS.get(name.rsplit(".", 1)[-1], "commentaire"), reason)
    if not found:
        found["commentaire"] = exc.problem.detail or "valeur refusée"
    return found


def conflict_text(exc: ApiError) -> str:
    if exc.status == 412:
        return (
            "Quelqu’un a agi sur cette orientation avant vous : votre action n’a pas été "
            "enregistrée."
        )
    detail = exc.problem.detail or "cette action n’est plus possible"
    return f"Votre action n’a pas été enregistrée : {detail.rstrip('.')}."


class Pages:
    """What every form needs to answer: the API clients and the page to show again."""

    def __init__(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        auth: AuthApi,
    ) -> None:
        self.request = request
        self.staff = staff
        self.referrals = referrals
        self.directory = directory
        self.auth = auth

    async def attempt(
        self, referral_id: uuid.UUID, name: str, form: Form, call: Call, done: str
    ) -> Response[Any]:
        try:
            await call()
        except ApiError as exc:
            if exc.status in (409, 412):
                return await self.page(referral_id, status=409, conflict=conflict_text(exc))
            if exc.status not in (400, 422):
                raise
            values = {k: v[0] for k, v in form.items() if k not in ("csrf_token", "cle")}
            return await self.page(
                referral_id, status=422, failed=name, errors=field_errors(exc), values=values
            )
        return see_other(f"/orientations/{referral_id}?message={done}")

    async def page(self, referral_id: uuid.UUID, *, status: int, **extra: Any) -> Response[Any]:
        return await referral_page(
            self.request,
            self.staff,
            self.referrals,
            self.directory,
            self.auth,
            referral_id,
            status=status,
            **extra,
        )


class ReferralActions(Controller):
    path = "/orientations/{referral_id:uuid}"
    include_in_schema = False

    @post("/transmissions/{handoff_id:uuid}/{verb:str}", status_code=303)
    async def transition(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        auth: AuthApi,
        form: Form,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
        verb: str,
    ) -> Response[Any]:
        """Accuser réception, accepter, prendre en charge, refuser, annuler."""
        if verb not in TRANSITIONS:
            raise ApiError.not_found()
        action, done = TRANSITIONS[verb]
        body: dict[str, Any] | None = None
        if verb == "refuser":
            body = {"reason": one(form, "motif"), "comment": one(form, "commentaire")}
        elif verb == "annuler":
            body = {"reason": one(form, "motif"), "comment": optional(form, "commentaire")}
        pages = Pages(request, staff, referrals, directory, auth)
        name = f"annuler-{handoff_id}" if verb == "annuler" else verb
        return await pages.attempt(
            referral_id,
            name,
            form,
            lambda: referrals.transition(
                referral_id, handoff_id, form_version(form), action, form_key(form), body
            ),
            done,
        )

    @post("/cloturer", status_code=303)
    async def close(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        auth: AuthApi,
        form: Form,
        referral_id: uuid.UUID,
    ) -> Response[Any]:
        note = one(form, "note")
        body = {
            "outcome": one(form, "issue"),
            "evaluation_score": int(note) if note.isdigit() and len(note) < 3 else None,
            "evaluation_comment": optional(form, "commentaire"),
        }
        return await Pages(request, staff, referrals, directory, auth).attempt(
            referral_id,
            "cloturer",
            form,
            lambda: referrals.act_on_referral(
                referral_id, "close", form_version(form), form_key(form), body
            ),
            "cloturee",
        )

    @post("/referent", status_code=303)
    async def change_referent(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        auth: AuthApi,
        form: Form,
        referral_id: uuid.UUID,
    ) -> Response[Any]:
        body = {"referent": one(form, "referent")}
        return await Pages(request, staff, referrals, directory, auth).attempt(
            referral_id,
            "referent",
            form,
            lambda: referrals.act_on_referral(
                referral_id, "referent", form_version(form), form_key(form), body
            ),
            "referent",
        )

    @get("/retrait")
    async def withdrawal(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        referral_id: uuid.UUID,
    ) -> Response[Any]:
        """Before withdrawing consent: what will be erased, for whom, and what remains."""
        referral = await referrals.referral(referral_id)
        if "withdraw_consent" not in referral.allowed_actions:
            return see_other(f"/orientations/{referral_id}")
        open_handoffs = [
            h for h in referral.handoffs if h.state in ("sent", "acknowledged", "accepted")
        ]
        open_handoffs += [h for h in referral.handoffs if h.state == "taken_over"]
        return render(
            request,
            "orientations/retrait.html",
            title=f"Retrait du consentement — orientation {reference(referral.id)}",
            referral=referral,
            reference=reference(referral.id),
            open_handoffs=open_handoffs,
            partners=sorted({h.to_structure_name for h in referral.handoffs}),
            origin=side_of(referral, staff.structure_id).origin,
            key=uuid.uuid4().hex,
        )

    @post("/retrait", status_code=303)
    async def withdraw(
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
            "given_by": one(form, "qui", "person"),
            "method": one(form, "comment", "oral"),
        }
        return await Pages(request, staff, referrals, directory, auth).attempt(
            referral_id,
            "retrait",
            form,
            lambda: referrals.act_on_referral(
                referral_id, "consent/withdraw", form_version(form), form_key(form), body
            ),
            "retrait",
        )

    @get("/export")
    async def export(
        self, staff: Staff, referrals: ReferralsApi, referral_id: uuid.UUID
    ) -> Response[bytes]:
        """The person's file (right of access) as the API gives it, to hand to the person."""
        content = await referrals.export(referral_id)
        name = f"relais-{reference(referral_id)}.json"
        return Response(
            content,
            media_type="application/json",
            headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
        )

    @get("/pieces/{attachment_id:uuid}")
    async def attachment(
        self,
        staff: Staff,
        referrals: ReferralsApi,
        referral_id: uuid.UUID,
        attachment_id: uuid.UUID,
    ) -> Response[bytes]:
        """A document, if the consent covers documents for my structure (the API decides)."""
        content, media_type, disposition = await referrals.attachment(referral_id, attachment_id)
        return Response(
            content,
            media_type=media_type,
            headers={**SECURITY_HEADERS, "Content-Disposition": disposition},
        )


ROUTES = [ReferralActions]
