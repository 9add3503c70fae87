"""Schemathesis against the directory's document (native API and HSDS): generated requests
(valid and invalid, anonymous and as a moderator) never make a server error and are answered as
documented (status, media type, headers, body schema)."""

from __future__ import annotations

import pytest
import schemathesis

from tests.conftest import Relais
from tests.fuzz import contract_failures, generate_cases

PATHS = "^/directory/(v1|hsds)/"


@pytest.mark.slow
async def test_generated_requests_are_answered_as_documented(relais: Relais) -> None:
    schema = schemathesis.openapi.from_asgi(
        "/directory/docs/openapi.json", relais.app("directory")
    ).include(path_regex=PATHS)
    moderator = {"Authorization": "Bearer " + relais.tokens.user(None, roles=("moderator",))}
    cases = generate_cases(schema, per_operation=25, at_least=20)
    assert await contract_failures(relais.client, cases, ({}, moderator)) == []
