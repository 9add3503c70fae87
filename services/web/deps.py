"""Dependencies of the web routes: who is there, the API clients as that person, checked forms."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.di import Provide

from services.web.clients.auth import AuthApi
from services.web.clients.base import ApiError
from services.web.clients.directory import DirectoryApi
from services.web.clients.referrals import AWAITING, Count, ReferralsApi
from services.web.sessions import Staff

Form = dict[str, list[str]]


class SignInRequired(Exception):
    """The page needs a signed-in person: go through /connexion and come back."""


class Forbidden(Exception):
    """Signed in, but not allowed here (e.g. not an administrator of the structure)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadForm(Exception):
    """A form without a valid CSRF token (expired page, or another site posting)."""


async def inbox_badge(request: Request[Any, Any, Any], staff: Staff | None) -> Count | None:
    """How many received orientations wait for an answer (the header's badge); None when the
    person acts for no structure or the API cannot say right now (the page still shows)."""
    if staff is None or staff.structure_id is None:
        return None
    api = ReferralsApi(request.app.state.http["referrals"], staff.access_token)
    try:
        return await api.count_inbox({"state": list(AWAITING)})
    except ApiError:
        return None


async def provide_visitor(request: Request[Any, Any, Any]) -> Staff | None:
    staff: Staff | None = await request.app.state.sessions.current(request)
    state = request.scope.setdefault("state", {})
    state["staff"] = staff
    if request.method == "GET" and request.headers.get("hx-request") != "true":
        # Every whole page shows the badge as it is now (htmx then polls it).
        state["inbox_badge"] = await inbox_badge(request, staff)
    return staff


async def provide_staff(visitor: Staff | None) -> Staff:
    if visitor is None:
        raise SignInRequired
    return visitor


async def provide_admin(staff: Staff) -> Staff:
    if not staff.is_admin or staff.structure_id is None:
        raise Forbidden(
            "Cette page est réservée aux administrateurs et administratrices de la structure."
        )
    return staff


async def provide_directory(request: Request[Any, Any, Any], visitor: Staff | None) -> DirectoryApi:
    state = request.app.state
    api = DirectoryApi(state.http["directory"], visitor.access_token if visitor else None)
    await state.labels.load(DirectoryApi(state.http["directory"]))
    return api


async def provide_auth(request: Request[Any, Any, Any], staff: Staff) -> AuthApi:
    return AuthApi(request.app.state.http["auth"], staff.access_token)


async def provide_referrals(request: Request[Any, Any, Any], staff: Staff) -> ReferralsApi:
    return ReferralsApi(request.app.state.http["referrals"], staff.access_token)


async def provide_form(request: Request[Any, Any, Any], staff: Staff) -> Form:
    """The posted form, once its CSRF token matches the session's (every form carries it)."""
    data = await request.form()
    form: Form = {key: [str(v) for v in data.getall(key)] for key in data}
    check_csrf(request, staff, (form.get("csrf_token") or [""])[0])
    return form


def check_csrf(request: Request[Any, Any, Any], staff: Staff, sent: str) -> None:
    """The form's token (or htmx's header) must be the session's; else BadForm."""
    sent = sent or request.headers.get("x-csrf-token", "")
    if not hmac.compare_digest(sent.encode(), staff.csrf.encode()):
        raise BadForm


def one(form: Form, name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0].strip() if values else default


DEPENDENCIES = {
    "visitor": Provide(provide_visitor),
    "staff": Provide(provide_staff),
    "admin": Provide(provide_admin),
    "directory": Provide(provide_directory),
    "auth": Provide(provide_auth),
    "referrals": Provide(provide_referrals),
    "form": Provide(provide_form),
}
