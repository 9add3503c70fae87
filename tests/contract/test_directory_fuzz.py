"""Schemathesis against the directory's native API: generated requests (valid and invalid,
anonymous and as a moderator) never make a server error."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import Relais

PATHS = "^/directory/v1/(structures|services|places|taxonomies|communes)"


@pytest.mark.slow
def test_no_server_error_on_generated_requests(relais: Relais) -> None:
    schema = schemathesis.openapi.from_asgi(
        "/directory/docs/openapi.json", relais.app("directory")
    ).include(path_regex=PATHS)
    moderator = {"Authorization": "Bearer " + relais.tokens.user(None, roles=("moderator",))}
    failures: list[tuple[str, int, str]] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            for headers in ({}, moderator):
                case.headers = {**(case.headers or {}), **headers}
                response = case.call()
                if response.status_code >= 500:
                    failures.append(
                        (case.operation.label, response.status_code, response.text[:200])
                    )

        exercise()
    assert failures == []
