"""Error pages in the layout, in French: not found, forbidden, service down, unexpected."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Redirect
from sqlalchemy import exc as sa_exc

from services.kernel.problems import ProblemError
from services.web.clients.base import ApiError, Unavailable
from services.web.deps import BadForm, Forbidden, SignInRequired
from services.web.rendering import SECURITY_HEADERS, query, render

log = structlog.get_logger("relais.web.errors")

PAGES = {
    400: (
        "Demande incomplète",
        "La page n’a pas compris cette demande. Revenez en arrière et recommencez.",
    ),
    403: ("Accès réservé", "Vous n’avez pas accès à cette page avec la structure choisie."),
    404: (
        "Page introuvable",
        "Cette page n’existe pas ou plus. Elle a peut-être été retirée de l’annuaire.",
    ),
    500: (
        "Erreur inattendue",
        "Une erreur est survenue de notre côté ; elle a été enregistrée. Réessayez dans un moment.",
    ),
    503: (
        "Service momentanément indisponible",
        "Relais ne peut pas joindre ses données pour "
        "l’instant (base de données ou service en maintenance). Réessayez dans quelques "
        "minutes : rien de ce que vous avez déjà enregistré n’est perdu.",
    ),
}


def error_page(
    request: Request[Any, Any, Any], status: int, detail: str | None = None
) -> Response[Any]:
    title, text = PAGES.get(status, PAGES[500])
    response = render(
        request, "erreur.html", status=status, title=title, text=detail or text, status_code=status
    )
    if status == 503:
        response.headers["Retry-After"] = "30"
    return response


def sign_in_again(request: Request[Any, Any, Any]) -> Response[Any]:
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        back = "/"
    return Redirect(
        query("/connexion", {"retour": back}), status_code=303, headers=SECURITY_HEADERS
    )


def on_sign_in_required(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return sign_in_again(request)


def on_forbidden(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    detail = exc.detail if isinstance(exc, Forbidden) else None
    return error_page(request, 403, detail)


def on_bad_form(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return error_page(
        request,
        400,
        "Ce formulaire a expiré (page restée ouverte longtemps, ou session renouvelée). "
        "Rechargez la page et recommencez.",
    )


def on_api_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, ApiError)
    if isinstance(exc, Unavailable):
        log.warning("web_api_unavailable", status=exc.status, path=request.url.path)
        return error_page(request, 503)
    if exc.status == 401:
        return sign_in_again(request)
    if exc.status in (403, 404):
        return error_page(request, exc.status, exc.problem.detail if exc.status == 403 else None)
    log.warning("web_api_error", status=exc.status, path=request.url.path)
    return error_page(request, 400, exc.problem.detail)


def on_http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, NotFoundException):
        return error_page(request, 404)
    if isinstance(exc, ProblemError) and exc.status_code == 400:
        return error_page(request, 400, exc.detail)  # names the parameter at fault
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return error_page(request, 404 if exc.status_code == 405 else 400)
    return on_unexpected(request, exc)


def on_database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("web_database_unavailable", error_type=type(exc).__name__)
    return error_page(request, 503)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error(
        "web_unhandled_error", path=request.url.path, error_type=type(exc).__name__, exc_info=exc
    )
    try:
        return error_page(request, 500)
    except Exception:  # the layout itself failed: a bare page
        return Response("Erreur inattendue.", status_code=500, media_type="text/plain")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    SignInRequired: on_sign_in_required,
    Forbidden: on_forbidden,
    BadForm: on_bad_form,
    ApiError: on_api_error,
    HTTPException: on_http_error,
    sa_exc.DBAPIError: on_database_error,
    sa_exc.TimeoutError: on_database_error,
    ConnectionError: on_database_error,
    OSError: on_database_error,
    Exception: on_unexpected,
}
