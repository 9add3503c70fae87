"""What every request must be before a handler sees it, checked once for every route.

- Query parameters: only those the operation declares. A misspelt filter (``?comune=``) must not
  silently widen the answer to the whole directory, so an unknown name is a 400 that names it.
  OAuth 2 protocol endpoints opt out (``opt={ANY_QUERY: True}``): RFC 6749 §3.1 requires them to
  ignore parameters they do not know.
- Text: no NUL character in a query, path, JSON or form value. PostgreSQL cannot store it and
  SQLite cuts C strings at it, so it is refused where it comes in (400 for the request line, 422
  for a body field), naming the parameter or the field. Protocol endpoints with an error format
  of their own (``opt={PROBLEM_RESPONSES: False}``) check their query and form themselves.
- JSON bodies: sent as ``application/json`` (or ``…+json``; 415 otherwise, never parsed as JSON
  anyway), UTF-8, well-formed and at most ``MAX_JSON_DEPTH`` levels deep; otherwise a 400 about
  ``body`` (in French).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Litestar
from litestar import Request as LitestarRequest
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.enums import ParamType
from litestar.exceptions import SerializationException
from litestar.routes import HTTPRoute
from litestar.types import Scope

from services.kernel.errors import FieldError
from services.kernel.problems import PROBLEM_RESPONSES, ProblemError

ANY_QUERY = "any_query"
"""Route ``opt`` flag: the operation accepts (and ignores) query parameters it does not declare."""

QUERY_NAMES = "query_names"  # route ``opt``: the query parameters the operation declares

MAX_JSON_DEPTH = 32
INT64 = (-(2**63), 2**63 - 1)
NUL = "\x00"
NUL_REASON = "caractère nul (U+0000) interdit"

# Only a body holding one of these can break a rule that needs a walk through the decoded value.
_ESCAPED_NUL = b"\\u0000"


def declare_query_names(app: Litestar) -> None:
    """Record on each route handler the query parameters it (or its dependencies) declares."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, model in route.route_handler_map.values():
            handler.opt[QUERY_NAMES] = frozenset(p.field_alias for p in model.expected_query_params)


def _bad_parameter(kind: str, name: str, reason: str) -> ProblemError:
    return ProblemError(
        400, f"{name}: {reason}", errors=[FieldError(field=name, reason=reason, source=kind)]
    )


def check_parameters(scope: Scope) -> None:
    """Query and path parameters of a routed request (the 400s of the module docstring); run by
    the kernel's guard (``services.kernel.access``) once the caller is known."""
    for name, value in (scope.get("path_params") or {}).items():
        if isinstance(value, str) and NUL in value:
            raise _bad_parameter(ParamType.PATH.value, name, NUL_REASON)
    handler = scope["route_handler"]
    if not scope.get("query_string") or handler.opt.get(PROBLEM_RESPONSES) is False:
        return
    declared: frozenset[str] | None = handler.opt.get(QUERY_NAMES)
    open_ended = handler.opt.get(ANY_QUERY, False)
    for name, value in ASGIConnection(scope).query_params.multi_items():
        if not open_ended and declared is not None and name not in declared:
            known = ", ".join(sorted(declared)) or "aucun"
            raise _bad_parameter(
                ParamType.QUERY.value, name, f"paramètre inconnu (acceptés : {known})"
            )
        if NUL in name or NUL in str(value):
            raise _bad_parameter(ParamType.QUERY.value, name.replace(NUL, "\\0"), NUL_REASON)


def _malformed(reason: str) -> ProblemError:
    return ProblemError(
        400,
        f"Corps de la requête illisible : {reason}.",
        slug="malformed-body",
        errors=[FieldError(field="body", reason=reason)],
    )


_DECODE_REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"truncated"), "JSON incomplet"),
    (re.compile(r"trailing characters \(byte (\d+)\)"), "texte après la fin du JSON (octet {0})"),
    (re.compile(r"invalid escape .*\(byte (\d+)\)"), "JSON : échappement invalide (octet {0})"),
    (re.compile(r"\(byte (\d+)\)"), "JSON mal formé (octet {0})"),
    (re.compile(r"Number out of range"), "nombre hors limites dans le JSON"),
]


def _decode_reason(message: str) -> str:
    for pattern, reason in _DECODE_REASONS:
        found = pattern.search(message)
        if found:
            return reason.format(*found.groups())
    return "JSON mal formé"


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _walk(value: Any) -> Iterator[tuple[str, int, Any]]:
    """(path, depth, value) of every node, iteratively (a deep body must not exhaust the stack)."""
    pending: list[tuple[str, int, Any]] = [("", 0, value)]
    while pending:
        path, depth, node = pending.pop()
        yield path, depth, node
        if isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str) and NUL in key:
                    yield _path(path, key.replace(NUL, "\\0")), depth + 1, key
                pending.append((_path(path, key), depth + 1, child))
        elif isinstance(node, list):
            pending.extend((_path(path, i), depth + 1, child) for i, child in enumerate(node))


def check_json(value: Any) -> None:
    """The body rules a decoded JSON value must keep (depth, no NUL)."""
    for path, depth, node in _walk(value):
        if depth > MAX_JSON_DEPTH:
            raise _malformed(f"JSON imbriqué sur plus de {MAX_JSON_DEPTH} niveaux")
        if (
            isinstance(node, int)
            and not isinstance(node, bool)
            and not (INT64[0] <= node <= INT64[1])
        ):
            raise ProblemError(
                422,
                f"{path or 'body'}: entier hors limites",
                errors=[FieldError(field=path or "body", reason="entier hors limites")],
            )
        if isinstance(node, str) and NUL in node:
            raise ProblemError(
                422,
                f"{path or 'body'}: {NUL_REASON}",
                errors=[FieldError(field=path or "body", reason=NUL_REASON)],
            )


def _needs_walk(body: bytes) -> bool:
    return _ESCAPED_NUL in body or body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH


class Request(LitestarRequest[Any, Any, Any]):
    """Litestar's request with the body rules of the module docstring."""

    async def json(self) -> Any:
        media_type = self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type and media_type != "application/json" and not media_type.endswith("+json"):
            raise ProblemError(
                415,
                "Type de contenu non pris en charge : le corps doit être du JSON "
                "(Content-Type: application/json).",
                errors=[FieldError("Content-Type", "application/json attendu", source="header")],
            )
        body = await self.body()
        try:
            value = await super().json()
        except UnicodeDecodeError:
            raise _malformed("JSON en UTF-8 invalide") from None
        except RecursionError:
            raise _malformed(f"JSON imbriqué sur plus de {MAX_JSON_DEPTH} niveaux") from None
        except (SerializationException, msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _malformed(_decode_reason(str(exc))) from None
        if _needs_walk(body):
            check_json(value)
        return value

    async def form(self) -> Any:
        data = await super().form()
        if self.route_handler.opt.get(PROBLEM_RESPONSES) is False:
            return data
        for name, value in data.multi_items():
            text = value.filename if isinstance(value, UploadFile) else value
            if NUL in name or (isinstance(text, str) and NUL in text):
                field = name.replace(NUL, "\\0")
                raise ProblemError(
                    422,
                    f"{field}: {NUL_REASON}",
                    errors=[FieldError(field=field, reason=NUL_REASON)],
                )
        return data
