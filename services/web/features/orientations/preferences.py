"""« Mes notifications »: the signed-in person's mail preferences for the structure they act for,
kept by the referrals API (sign-in records their address, see ``ReferralsApi.record_address``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post

from services.web.clients.base import ApiError, Unavailable
from services.web.clients.referrals import ReferralsApi
from services.web.deps import Form, one
from services.web.features.connexion.routes import see_other
from services.web.labels import MAIL_MODES, REFERENT_EVENTS
from services.web.rendering import render
from services.web.sessions import Staff


class Notifications(Controller):
    path = "/mes-notifications"
    include_in_schema = False

    def _page(
        self,
        request: Request[Any, Any, Any],
        values: dict[str, Any],
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        message: str | None = None,
    ) -> Response[Any]:
        return render(
            request,
            "orientations/notifications.html",
            status=status,
            title="Mes notifications",
            values=values,
            errors=errors or {},
            message=message,
            modes=MAIL_MODES,
            events=REFERENT_EVENTS,
        )

    @get()
    async def show(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        message: str = "",
    ) -> Response[Any]:
        if staff.structure_id is None:
            return see_other("/")
        current = await referrals.preferences()
        values = {
            "email": current.email or staff.email,
            "mode": current.mode,
            "referent_events": current.referent_events,
        }
        saved = "Vos préférences sont enregistrées." if message == "enregistre" else None
        return self._page(request, values, message=saved)

    @post(status_code=303)
    async def save(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        form: Form,
    ) -> Response[Any]:
        values = {
            "email": one(form, "email"),
            "mode": one(form, "mode", "off"),
            "referent_events": [e for e in form.get("referent_events", []) if e],
        }
        try:
            await referrals.set_preferences(values)
        except Unavailable:
            raise
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            errors = {
                name.rsplit(".", 1)[-1]: reason for name, reason in exc.field_errors().items()
            }
            if not errors:
                errors["email"] = exc.problem.detail or "valeur refusée"
            if "email" in errors:
                errors["email"] = "adresse de courriel invalide (exemple : prenom.nom@exemple.fr)"
            return self._page(request, values, status=422, errors=errors)
        return see_other("/mes-notifications?message=enregistre")


ROUTES = [Notifications]
