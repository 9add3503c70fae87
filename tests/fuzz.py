"""Schemathesis helpers shared by the fuzz tests: cases generated first (deterministic), then
sent through the test client on the test's own event loop (the database connections of the
running system belong to that loop), each answer checked against the published document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

# What an answer must be, whatever was sent: no server error, and what the document says —
# a documented status, the documented media type, headers and body schema.
CONTRACT = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]

# What a case's transport arguments may carry to httpx.
_SENT = ("method", "url", "headers", "params", "json", "content", "data", "files")


def generate_cases(schema: Any, per_operation: int, *, at_least: int) -> list[Any]:
    """Up to ``per_operation`` cases for each operation of a schemathesis schema (which must
    hold ``at_least`` operations: a path filter that matches nothing fails loudly)."""
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= at_least
    cases: list[Any] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=per_operation,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def collect(case: Any) -> None:
            cases.append(case)

        collect()
    return cases


async def contract_failures(
    client: httpx.AsyncClient,
    cases: Sequence[Any],
    callers: Sequence[Mapping[str, str]],
    *,
    real: Mapping[str, str] | None = None,
) -> list[tuple[str, int, str]]:
    """Send every case as every caller; the answers that break the ``CONTRACT`` (operation,
    status, the failed check's title). With ``real``, every other case has its path parameters
    pointed at existing resources (so that deeper code runs)."""
    failures: list[tuple[str, int, str]] = []
    for index, case in enumerate(cases):
        if real and index % 2 and case.path_parameters:
            case.path_parameters = {k: real.get(k, v) for k, v in case.path_parameters.items()}
        for headers in callers:
            kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=dict(headers))
            request = {k: v for k, v in kwargs.items() if k in _SENT}
            response = await client.request(**request)
            try:
                case.validate_response(response, checks=CONTRACT, transport_kwargs=kwargs)
            except BaseExceptionGroup as group:
                failures += [
                    (case.operation.label, response.status_code, str(failure).split("\n")[0])
                    for failure in group.exceptions
                ]
    return failures
