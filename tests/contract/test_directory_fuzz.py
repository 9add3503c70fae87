"""Schemathesis against the directory's native API: generated requests (valid and invalid,
anonymous and as a moderator) never make a server error.

Cases are generated first, then sent through the test client on the test's own event loop
(the database connections of the running system belong to that loop)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import Relais

PATHS = "^/directory/v1/(structures|services|places|taxonomies|communes)"
_SENT = ("method", "url", "headers", "params", "json", "content", "data", "files")


def generate_cases(relais: Relais, per_operation: int) -> list[Any]:
    schema = schemathesis.openapi.from_asgi(
        "/directory/docs/openapi.json", relais.app("directory")
    ).include(path_regex=PATHS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
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


@pytest.mark.slow
async def test_no_server_error_on_generated_requests(relais: Relais) -> None:
    moderator = {"Authorization": "Bearer " + relais.tokens.user(None, roles=("moderator",))}
    failures: list[tuple[str, int, str]] = []
    for case in generate_cases(relais, per_operation=25):
        for headers in ({}, moderator):
            kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
            request = {k: v for k, v in kwargs.items() if k in _SENT}
            response = await relais.client.request(**request)
            if response.status_code >= 500:
                failures.append((case.operation.label, response.status_code, response.text[:200]))
    assert failures == []
