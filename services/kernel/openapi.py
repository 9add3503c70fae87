"""The error half of every operation in the published OpenAPI documents.

Litestar documents a generic ``400`` with its own ``ValidationException`` body, and nothing about
authentication, concurrency or outages. Third-party tools integrate through these documents, so
each operation declares what it really answers: RFC 9457 problem+json for every error status it
can produce, the bearer requirement of the handlers that resolve a caller, and the ``If-Match``
header of the writes guarded by a version (route ``opt={IF_MATCH: REQUIRED}``: 428 without it,
412 when stale; ``OPTIONAL``: 412 only). Request bodies that refuse unknown fields say so
(``additionalProperties: false``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.enums import ParamType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from services.kernel.problems import _TITLES, PROBLEM_MEDIA_TYPE, PROBLEM_RESPONSES, Problem

# Dependencies that resolve the caller (services.kernel.app): required, then optional.
AUTHENTICATED = "authenticated"
CALLER = "caller"
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

IF_MATCH = "if_match"
"""Route ``opt``: the operation is guarded by the resource's version (its ETag). ``REQUIRED``:
the kernel's guard answers 428 without the header (before reading the body); ``OPTIONAL``:
checked when sent. The handler compares the version itself (412)."""
REQUIRED = "required"
OPTIONAL = "optional"
# The ETags of Relais are versions: "3", W/"3", or * for any version.
ETAG_PATTERN = r'^(\*|(W/)?"[0-9]{1,9}")$'


_WHY = {
    412: " : l'en-tête If-Match ne correspond plus à la version (ETag) actuelle",
    428: " : renvoyez l'ETag lu dans l'en-tête If-Match",
}


def _problem(status: int) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem,
        description=f"{_TITLES[status]}{_WHY.get(status, '')} (RFC 9457 problem+json)",
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
    )


def dependency_names(handler: HTTPRouteHandler) -> set[str]:
    """Every dependency the handler uses, directly or through other dependencies."""
    available = handler.resolve_dependencies()
    used: set[str] = set()
    pending = list(handler.parsed_fn_signature.parameters)
    while pending:
        name = pending.pop()
        if name in used or name not in available:
            continue
        used.add(name)
        pending.extend(inspect.signature(available[name].dependency).parameters)
    return used


def error_statuses(
    path: str, method: str, dependencies: set[str], if_match: str | None = None
) -> set[int]:
    """The error statuses an operation can answer, from its shape (pure, tested on its own)."""
    statuses = {400, 503}
    if AUTHENTICATED in dependencies:
        statuses |= {401, 403}
    elif CALLER in dependencies:
        statuses.add(401)  # a token, when given, must be valid
    if "{" in path:
        statuses.add(404)
    if method in BODY_METHODS:
        statuses |= {413, 415, 422}
    if method in WRITE_METHODS:
        statuses.add(409)
    if if_match is not None:
        statuses.add(412)
    if if_match == REQUIRED:
        statuses.add(428)
    return statuses


def if_match_parameter(required: bool) -> Parameter:
    return Parameter(
        name="If-Match",
        param_in=ParamType.HEADER,
        required=required,
        schema=Schema(type=OpenAPIType.STRING, pattern=ETAG_PATTERN),
        description="ETag (version) lu avec GET : 412 s'il n'est plus celui de la ressource"
        + ("; obligatoire (428 sans lui)" if required else ""),
    )


def with_parameter(base: type[Operation], parameter: Parameter) -> type[Operation]:
    """``base`` (an ``operation_class``) declaring one more parameter (replacing any of the same
    name and place that a dependency declared)."""

    @dataclass
    class WithParameter(base):  # type: ignore[valid-type,misc]
        def __post_init__(self) -> None:
            post_init = getattr(super(), "__post_init__", None)
            if post_init is not None:
                post_init()
            current: list[Any] = list(getattr(self, "parameters", None) or [])
            kept = [
                p
                for p in current
                if not (
                    isinstance(p, Parameter)
                    and p.name.lower() == parameter.name.lower()
                    and p.param_in == parameter.param_in
                )
            ]
            self.parameters = [*kept, parameter]

    return WithParameter


def also_as(media_type: str, description: str, status: int = 200) -> type[Operation]:
    """The ``operation_class`` of a route whose ``status`` answer may also come as text of
    ``media_type`` (a CSV export of the same data, chosen by the request)."""

    @dataclass
    class AlsoAs(Operation):
        def __post_init__(self) -> None:
            response = (self.responses or {}).get(str(status))
            if isinstance(response, OpenAPIResponse):
                text = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
                response.content = {**(response.content or {}), media_type: text}
                response.description = description

    return AlsoAs


class StrictStructs(StructSchemaPlugin):
    """msgspec Structs as Litestar documents them, plus ``additionalProperties: false`` for those
    that refuse unknown fields (every request body of Relais): the document tells what the
    server does."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        config = getattr(field_definition.type_, "__struct_config__", None)
        if config is not None and config.forbid_unknown_fields:
            schema.additional_properties = False
        return schema


_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def summary_of(function: Any) -> str | None:
    """An operation's summary when its route names none: the first sentence of its docstring
    (a sentence for the reader, not the function's name)."""
    doc = inspect.getdoc(function)
    if not doc:
        return None
    first = " ".join(doc.split("\n\n", 1)[0].split())
    return _SENTENCE_END.split(first, maxsplit=1)[0].rstrip(".")


def raw_body(media_types: Iterable[str], description: str) -> type[Operation]:
    """The ``operation_class`` of a route that reads its body itself (``request.body()``, no
    ``data`` parameter), so that the document still says what to send: one binary body of one of
    ``media_types``."""
    binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
    body = RequestBody(
        required=True,
        description=description,
        content={media: OpenAPIMediaType(schema=binary) for media in media_types},
    )

    @dataclass
    class RawBodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return RawBodyOperation


def document_errors(app: Litestar) -> None:
    """Declare problem responses and bearer security on every HTTP handler of ``app``."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema or handler.opt.get(PROBLEM_RESPONSES) is False:
                continue
            if handler.summary is None:
                handler.summary = summary_of(handler.fn)
            dependencies = dependency_names(handler)
            if_match = handler.opt.get(IF_MATCH)
            if handler.http_methods <= SAFE_METHODS:
                if_match = None  # (a controller's versioned writes; its reads take no If-Match)
            if if_match is not None:
                parameter = if_match_parameter(if_match == REQUIRED)
                handler.operation_class = with_parameter(handler.operation_class, parameter)
            for method in handler.http_methods:
                statuses = error_statuses(route.path, method, dependencies, if_match)
                declared: dict[int, ResponseSpec] = dict(handler.responses or {})
                for status in sorted(statuses):
                    declared.setdefault(status, _problem(status))
                handler.responses = declared
            if not any(layer.security for layer in handler.ownership_layers):
                if AUTHENTICATED in dependencies:
                    handler.security = BEARER
                elif CALLER in dependencies:
                    handler.security = [*BEARER, {}]
