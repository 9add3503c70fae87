"""« Où en est ma demande ? »: the person's own page, by their follow-up code, without an account.

Plain French in short sentences, large type, no script: it works on a cheap phone. It shows
only what the API gives the person (which structure has the request, since when, what comes
next, whom to call); the person can withdraw their consent, and say how it went once it is
over. Forms carry no CSRF token: the code in the address is the secret another site lacks.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post

from services.web.clients.base import ApiError, Unavailable
from services.web.clients.referrals import FollowUp, FollowUpApi
from services.web.features.connexion.routes import see_other
from services.web.rendering import render

FEEDBACK = {"oui": "Oui", "en_partie": "En partie", "non": "Non"}
COMMENT_MAX = 1000


def _api(request: Request[Any, Any, Any]) -> FollowUpApi:
    client = request.client
    return FollowUpApi(request.app.state.http["referrals"], client.host if client else "unknown")


def _problem(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    """No such link (unknown, replaced or expired: the API does not say which), too many tries,
    or the service is away."""
    if isinstance(exc, Unavailable):
        return render(request, "suivi/probleme.html", status=503, title="Service indisponible",
                      kind="indisponible")  # fmt: skip
    if exc.status == 429:
        response = render(request, "suivi/probleme.html", status=429, title="Trop d’essais",
                          kind="trop")  # fmt: skip
        if exc.headers and exc.headers.get("retry-after"):
            response.headers["Retry-After"] = exc.headers["retry-after"]
        return response
    return render(request, "suivi/probleme.html", status=404, title="Lien introuvable",
                  kind="introuvable")  # fmt: skip


def _page(
    request: Request[Any, Any, Any],
    code: str,
    status: FollowUp,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response[Any]:
    return render(
        request,
        "suivi/demande.html",
        status=status_code,
        title="Où en est ma demande ?",
        code=code,
        s=status,
        FEEDBACK=FEEDBACK,
        **extra,
    )


class FollowUpPages(Controller):
    path = "/suivi"
    include_in_schema = False

    @get("/retrait-confirme")
    async def withdrawn(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """The last page of a withdrawal: nothing about the person, not even the code."""
        return render(request, "suivi/retire.html", title="Votre accord est retiré")

    @get("/{code:str}")
    async def show(
        self, request: Request[Any, Any, Any], code: str, merci: str = ""
    ) -> Response[Any]:
        try:
            status = await _api(request).status(code)
        except ApiError as exc:
            return _problem(request, exc)
        return _page(request, code, status, thanks=merci == "1")

    @get("/{code:str}/retrait")
    async def confirm_withdrawal(self, request: Request[Any, Any, Any], code: str) -> Response[Any]:
        """Before withdrawing: what will be erased, and who will be told."""
        try:
            status = await _api(request).status(code)
        except ApiError as exc:
            return _problem(request, exc)
        if not status.can_withdraw:
            return see_other(f"/suivi/{code}")
        return render(
            request, "suivi/retrait.html", title="Retirer mon accord", code=code, s=status
        )

    @post("/{code:str}/retrait", status_code=303)
    async def withdraw(self, request: Request[Any, Any, Any], code: str) -> Response[Any]:
        try:
            await _api(request).withdraw(code)
        except ApiError as exc:
            return _problem(request, exc)
        return see_other("/suivi/retrait-confirme")

    @post("/{code:str}/avis", status_code=303)
    async def feedback(self, request: Request[Any, Any, Any], code: str) -> Response[Any]:
        form = await request.form()
        answer = str(form.get("reponse") or "")
        comment = str(form.get("commentaire") or "").strip()[:COMMENT_MAX] or None
        api = _api(request)
        if answer not in FEEDBACK:
            try:
                status = await api.status(code)
            except ApiError as exc:
                return _problem(request, exc)
            return _page(
                request, code, status, error="Choisissez une réponse : oui, en partie ou non.",
                comment=comment or "", status_code=400,
            )  # fmt: skip
        try:
            await api.feedback(code, answer, comment)
        except ApiError as exc:
            if exc.status != 409:
                return _problem(request, exc)
        return see_other(f"/suivi/{code}?merci=1")


ROUTES = [FollowUpPages]
