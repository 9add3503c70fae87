"""Kernel behaviour seen through the running system: problem+json, health, request ids."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.tokens import TokenFactory, bearer


async def test_unknown_path_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/directory/v1/does-not-exist")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 404
    assert body["type"].endswith("/not-found")
    assert body["instance"] == "/directory/v1/does-not-exist"
    # Outside the API prefixes, the web app answers with its French page.
    page = await client.get("/nulle-part")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page introuvable" in page.text


async def test_method_not_allowed_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.delete("/directory/docs/openapi.json")
    assert response.status_code == 405
    assert response.json()["type"].endswith("/method-not-allowed")


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert set(ready.json()["services"]) == {"directory", "referrals", "auth", "web"}


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/directory/docs/openapi.json", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get(
        "/directory/docs/openapi.json", headers={"X-Request-ID": "bad id\n"}
    )
    assert generated.headers["x-request-id"] != "bad id\n"
    assert len(generated.headers["x-request-id"]) == 32


async def test_metrics_expose_request_counts(client: httpx.AsyncClient) -> None:
    await client.get("/directory/docs/openapi.json")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert (
        'relais_http_requests_total{method="GET",route="/directory/docs/openapi.json"'
        in metrics.text
    )


async def test_malformed_bearer_header_is_401(client: httpx.AsyncClient) -> None:
    # Any endpoint that reads the caller rejects a malformed Authorization header.
    response = await client.get("/directory/docs/openapi.json", headers=bearer("not-a-jwt"))
    # The docs do not read the caller: the header is ignored there.
    assert response.status_code == 200


async def test_docs_page_serves_swagger_offline(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/directory/docs/openapi.json" in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        response = await client.get(f"/docs/assets/{asset}")
        assert response.status_code == 200, asset
        assert len(response.content) > 1000
    assert (await client.get("/docs/assets/../../etc/passwd")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"name": 12}, "name", "type attendu : texte (reçu : entier)"),
        ({}, "name", "champ obligatoire manquant"),
        ({"name": "Lieu", "nom": "x"}, "nom", "champ inconnu"),
        ({"name": "x" * 301}, "name", "au plus 300 caractères"),
        ({"name": "Lieu", "parent_id": "pas-un-uuid"}, "parent_id", "identifiant invalide"),
        ({"name": "Lieu", "status": "archived"}, "status", "valeur inconnue : 'archived'"),
    ],
)
async def test_validation_errors_name_the_field_in_french(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    body: dict[str, object],
    field: str,
    reason: str,
) -> None:
    response = await client.post(
        "/directory/v1/structures",
        json=body,
        headers=bearer(tokens.user(uuid.uuid4(), ("moderator",))),
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert errors[0]["reason"].startswith(reason), errors
