"""RFC 9457 problem details for every error the services return.

Handlers turn Litestar/msgspec validation errors into a list of fields at fault, map every HTTP
status to a stable ``type`` URI, and hide internals of unexpected errors (logged, never sent).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy import exc as sa_exc

from services.kernel.errors import FieldError

PROBLEM_MEDIA_TYPE = "application/problem+json"

PROBLEM_RESPONSES = "problem_responses"
"""Route ``opt`` flag: ``False`` for protocol endpoints answering in their own error format
(OAuth 2, RFC 6749 §5.2). The kernel's input rules, which answer problem+json, leave their query
and body to them (``services.kernel.inputs``)."""
TYPE_BASE = "https://relais.example.org/problems/"

log = structlog.get_logger("relais.errors")

_TITLES = {
    400: "Requête invalide",
    401: "Authentification requise",
    403: "Accès refusé",
    404: "Ressource introuvable",
    405: "Méthode non autorisée",
    406: "Format non disponible",
    409: "Conflit",
    410: "Ressource supprimée",
    412: "Version périmée",
    413: "Requête trop volumineuse",
    415: "Type de contenu non pris en charge",
    422: "Données invalides",
    428: "En-tête If-Match requis",
    429: "Trop de requêtes",
    500: "Erreur interne",
    502: "Service partenaire en erreur",
    503: "Service indisponible",
}
_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    410: "gone",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "too-many-requests",
    500: "internal-error",
    502: "bad-gateway",
    503: "service-unavailable",
}


class Problem(msgspec.Struct, omit_defaults=True):
    """The problem+json document (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    extra: dict[str, Any] | None = None


class ProblemError(HTTPException):
    """Raise from anywhere to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail=detail, status_code=status, headers=headers)
        self.slug = slug or _SLUGS.get(status, "error")
        self.errors = errors
        self.extra = extra or None


def not_found(what: str = "Ressource") -> ProblemError:
    return ProblemError(404, f"{what} introuvable.")


def field_error(
    field: str, reason: str, *, status: int = 422, value: Any = msgspec.UNSET
) -> ProblemError:
    return ProblemError(
        status,
        f"{field}: {reason}",
        errors=[FieldError(field=field, reason=reason, value=value)],
    )


def query_error(field: str, reason: str) -> ProblemError:
    """A query parameter the server refuses: 400, the error naming the parameter as such."""
    return ProblemError(
        400, f"{field}: {reason}", errors=[FieldError(field=field, reason=reason, source="query")]
    )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _instance(request: Request[Any, Any, Any]) -> str:
    return str(request.url.path)


_MSGSPEC_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


_TYPES = {
    "int": "entier",
    "float": "nombre",
    "str": "texte",
    "bool": "booléen (true/false)",
    "array": "liste",
    "object": "objet",
    "null": "null",
}


def _type(name: str) -> str:
    return " ou ".join(_TYPES.get(part.strip(), part.strip()) for part in name.split("|"))


def _bound(op: str) -> str:
    return "au plus" if op == "<=" else "au moins"


def _count(n: str, noun: str) -> str:
    return f"{n} {noun}{'s' if int(n) > 1 else ''}"


# msgspec's English reasons, said in French for the people reading them; a field named in the
# reason itself (missing / unknown) joins the path.
_REASONS: list[tuple[re.Pattern[str], Any]] = [
    (
        re.compile(r"^Object missing required field `(?P<field>[^`]+)`$"),
        lambda m: (m["field"], "champ obligatoire manquant"),
    ),
    (
        re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$"),
        lambda m: (m["field"], "champ inconnu"),
    ),
    (
        re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$"),
        lambda m: ("", f"type attendu : {_type(m['want'])} (reçu : {_type(m['got'])})"),
    ),
    (
        re.compile(r"^Expected `str` of length (?P<op>[<>]=) (?P<n>\d+)$"),
        lambda m: ("", f"{_bound(m['op'])} {_count(m['n'], 'caractère')}"),
    ),
    (
        re.compile(r"^Expected `(?:array|object)` of length (?P<op>[<>]=) (?P<n>\d+)$"),
        lambda m: ("", f"{_bound(m['op'])} {_count(m['n'], 'élément')}"),
    ),
    (
        re.compile(r"^Expected `str` matching regex (?P<regex>.+)$"),
        lambda m: ("", f"format invalide (attendu : {m['regex']})"),
    ),
    (
        re.compile(r"^Expected `(?:int|float)` (?P<op>[<>]=?) (?P<n>\S+)$"),
        lambda m: ("", f"doit être {m['op'].replace('<=', '≤').replace('>=', '≥')} {m['n']}"),
    ),
    (
        re.compile(r"^Invalid enum value (?P<value>.+)$"),
        lambda m: ("", f"valeur inconnue : {m['value']}"),
    ),
    (
        re.compile(r"^Invalid RFC3339 encoded datetime$"),
        lambda m: ("", "date et heure invalides (RFC 3339, ex. 2026-11-26T09:30:00+01:00)"),
    ),
    (
        re.compile(r"^Invalid RFC3339 encoded date$"),
        lambda m: ("", "date invalide (AAAA-MM-JJ)"),
    ),
    (
        re.compile(r"^Expected `datetime` with a timezone component$"),
        lambda m: ("", "fuseau horaire obligatoire (ex. +01:00 ou Z)"),
    ),
    (re.compile(r"^Invalid UUID$"), lambda m: ("", "identifiant invalide (UUID attendu)")),
]


def _split_msgspec(message: str) -> tuple[str, str]:
    match = _MSGSPEC_PATH.match(message)
    if not match:
        return "", message
    path = (match.group("path") or "").lstrip(".")
    reason = match.group("reason")
    for pattern, say in _REASONS:
        found = pattern.match(reason)
        if found:
            field, reason = say(found)
            if field:
                path = f"{path}.{field}" if path else field
            break
    return path, reason


def _validation_errors(exc: ValidationException) -> list[FieldError]:
    errors: list[FieldError] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        raw_source = item.get("source") or "body"
        source = str(getattr(raw_source, "value", raw_source))  # Litestar's ParamType enum
        key = str(item.get("key") or "")
        if source == "body" and key == "data":
            key = ""  # the body itself (Litestar's name for it), not a field called "data"
        message = str(item.get("message") or "invalid")
        path, reason = _split_msgspec(message)
        field = ".".join(p for p in (key, path) if p) or key or "body"
        errors.append(FieldError(field=field, reason=reason, source=source))
    if not errors:
        missing = _MISSING_PARAMETER.match(str(exc.detail))
        if missing:
            kind, name = missing.groups()
            errors.append(FieldError(field=name, reason="paramètre obligatoire", source=kind))
            return errors
        path, reason = _split_msgspec(str(exc.detail))
        errors.append(FieldError(field=path or "body", reason=reason))
    return errors


_MISSING_PARAMETER = re.compile(r"^Missing required (query|header|cookie|path) parameter '([^']+)'")


def http_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, ProblemError):
        status = exc.status_code
        problem = Problem(
            type=TYPE_BASE + exc.slug,
            title=_TITLES.get(status, "Erreur"),
            status=status,
            detail=exc.detail,
            instance=_instance(request),
            errors=exc.errors,
            extra=exc.extra if isinstance(exc.extra, dict) else None,
        )
        return problem_response(problem, exc.headers)
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc)
        status = 400 if _is_malformed_body(exc) else (exc.status_code or 400)
        if (
            status == 400
            and any(e.source == "body" for e in errors)
            and not _is_malformed_body(exc)
        ):
            status = 422
        detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
        problem = Problem(
            type=TYPE_BASE + ("malformed-body" if _is_malformed_body(exc) else _SLUGS[status]),
            title=_TITLES.get(status, "Requête invalide"),
            status=status,
            detail=detail,
            instance=_instance(request),
            errors=errors,
        )
        return problem_response(problem)
    if isinstance(exc, HTTPException):
        status = exc.status_code
        detail = exc.detail if status < 500 else _TITLES.get(status, "Erreur")
        if status == 405:
            detail = f"La méthode {request.method} n'est pas autorisée sur cette adresse."
        elif status == 404 and detail in {"Not Found", ""}:
            detail = "Aucune ressource à cette adresse."
        elif status == 413:
            detail = "Le corps de la requête dépasse la taille autorisée."
        problem = Problem(
            type=TYPE_BASE + _SLUGS.get(status, "error"),
            title=_TITLES.get(status, "Erreur"),
            status=status,
            detail=detail,
            instance=_instance(request),
        )
        return problem_response(problem, dict(exc.headers) if exc.headers else None)
    return internal_error_handler(request, exc)


def _is_malformed_body(exc: ValidationException) -> bool:
    text = str(exc.detail).lower()
    return "malformed" in text or "json is malformed" in text or "invalid json" in text


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # The traceback goes to the log (without request bodies), never to the client.
    log.error(
        "unhandled_error", path=_instance(request), error_type=type(exc).__name__, exc_info=exc
    )
    problem = Problem(
        type=TYPE_BASE + "internal-error",
        title=_TITLES[500],
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        detail="Une erreur inattendue est survenue ; elle a été enregistrée.",
        instance=_instance(request),
    )
    return problem_response(problem)


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def unavailable_detail(what: str, method: str) -> str:
    """Why a request failed on an outage, in words that fit it: a read says it could not read; a
    write says nothing was saved (its transaction was rolled back)."""
    consequence = (
        "lecture impossible" if method.upper() in READ_METHODS else "rien n'a été enregistré"
    )
    return f"{what} est momentanément indisponible : {consequence}, réessayez dans un instant."


def database_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The database is unreachable, restarting, or dropped a pooled connection (which the pool
    then discards): a retryable 503 rather than a 500. Other database errors are internal."""
    unavailable = isinstance(exc, ConnectionError | sa_exc.TimeoutError) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    )
    if not unavailable:
        return internal_error_handler(request, exc)
    log.warning("database_unavailable", path=_instance(request), error_type=type(exc).__name__)
    problem = Problem(
        type=TYPE_BASE + _SLUGS[503],
        title=_TITLES[503],
        status=503,
        detail=unavailable_detail("La base de données", request.method),
        instance=_instance(request),
    )
    return problem_response(problem, {"Retry-After": "1"})


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    HTTPException: http_exception_handler,
    sa_exc.DBAPIError: database_error_handler,
    sa_exc.TimeoutError: database_error_handler,
    ConnectionError: database_error_handler,
    Exception: internal_error_handler,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_RESPONSES",
    "FieldError",
    "MediaType",
    "Problem",
    "ProblemError",
    "field_error",
    "not_found",
]
