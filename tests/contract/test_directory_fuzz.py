"""Schemathesis against the directory's native API: generated requests (valid and invalid,
anonymous and as a moderator) never make a server error."""

from __future__ import annotations

import pytest
import schemathesis

from tests.conftest import Relais
from tests.fuzz import generate_cases, server_errors

PATHS = "^/directory/v1/(structures|services|places|taxonomies|communes)"


@pytest.mark.slow
async def test_no_server_error_on_generated_requests(relais: Relais) -> None:
    schema = schemathesis.openapi.from_asgi(
        "/directory/docs/openapi.json", relais.app("directory")
    ).include(path_regex=PATHS)
    moderator = {"Authorization": "Bearer " + relais.tokens.user(None, roles=("moderator",))}
    cases = generate_cases(schema, per_operation=25, at_least=20)
    assert await server_errors(relais.client, cases, ({}, moderator)) == []
