"""The published documents tell integrators the truth about errors: every error response is
RFC 9457 problem+json, protected operations declare the bearer scheme, and the statuses the
running system really answers are the documented ones."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.kernel.openapi import AUTHENTICATED, CALLER, OPTIONAL, REQUIRED, error_statuses
from tests.tokens import bearer

# Protocol endpoints keep the OAuth 2 error format (RFC 6749 §5.2).
OAUTH_PATHS = {"/auth/token", "/auth/introspect", "/auth/revoke"}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


def test_error_statuses_follow_the_operation_shape() -> None:
    assert error_statuses("/v1/things", "GET", set()) == {400, 503}
    assert error_statuses("/v1/things/{id}", "GET", {CALLER}) == {400, 401, 404, 503}
    assert error_statuses("/v1/things", "POST", {AUTHENTICATED}) == {
        400, 401, 403, 409, 413, 415, 422, 503,
    }  # fmt: skip
    patch = error_statuses("/v1/things/{id}", "PATCH", {AUTHENTICATED}, REQUIRED)
    assert {412, 428} <= patch
    action = error_statuses("/v1/things/{id}/verify", "POST", {AUTHENTICATED}, OPTIONAL)
    assert 412 in action
    assert 428 not in action
    unversioned = error_statuses("/v1/things/{id}", "PATCH", {AUTHENTICATED})
    assert not {412, 428} & unversioned


@pytest.mark.parametrize("service", ["directory", "referrals", "auth"])
async def test_every_documented_error_is_problem_json(
    client: httpx.AsyncClient, service: str
) -> None:
    document = (await client.get(f"/{service}/docs/openapi.json")).json()
    assert "Problem" in document["components"]["schemas"]
    for path, method, operation in _operations(document):
        if path in OAUTH_PATHS:
            continue
        errors = {code: r for code, r in operation["responses"].items() if code >= "400"}
        assert {"400", "503"} <= set(errors), (method, path)
        for code, response in errors.items():
            content = response.get("content", {})
            assert list(content) == ["application/problem+json"], (method, path, code)
            schema = content["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, code)
        if "401" in errors:
            assert {"bearer": []} in operation.get("security", []), (method, path)


async def _documented(client: httpx.AsyncClient, service: str, path: str, method: str) -> set[int]:
    document = (await client.get(f"/{service}/docs/openapi.json")).json()
    return {int(code) for code in document["paths"][path][method]["responses"]}


async def test_answered_statuses_are_documented(client: httpx.AsyncClient, tokens: Any) -> None:
    moderator = bearer(tokens.user(uuid.uuid4(), ("moderator",)))
    created = await client.post(
        "/directory/v1/structures", json={"name": "Doc erreurs"}, headers=moderator
    )
    assert created.status_code == 201, created.text
    structure = f"/directory/v1/structures/{created.json()['id']}"
    item = "/directory/v1/structures/{structure_id}"
    cases = [
        # (answered by the system, documented for the operation)
        (await client.patch(structure, json={"name": "x"}, headers=moderator), item, "patch"),
        (
            await client.patch(
                structure, json={"name": "x"}, headers={**moderator, "If-Match": '"999"'}
            ),
            item,
            "patch",
        ),
        (await client.patch(structure, json={"name": "x"}), item, "patch"),
        (
            await client.get(f"/directory/v1/structures/{uuid.uuid4()}"),
            item,
            "get",
        ),
        (
            await client.post("/directory/v1/structures", json={"nom": 1}, headers=moderator),
            "/directory/v1/structures",
            "post",
        ),
    ]
    answered = set()
    for response, path, method in cases:
        assert response.status_code >= 400, response.text
        answered.add(response.status_code)
        documented = await _documented(client, "directory", path, method)
        assert response.status_code in documented, (method, path, response.status_code)
    assert {428, 412, 401, 404, 422} <= answered
