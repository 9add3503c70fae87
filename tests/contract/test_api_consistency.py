"""What an integrator meets is the same everywhere: one status per kind of error (a bad query
parameter is a 400, an authorised caller's bad body field a 422), French words for a malformed
body, the caller's rights checked before its body, JSON bodies only as JSON, one charset per text
type, operations summarised by a sentence, and every body described in the documents."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.kernel.access import CLIENT_SCOPES
from tests.conftest import Relais
from tests.contract.routes import PDF, Resources, operations, resources, url

ENGLISH = ("JSON is", "malformed", "truncated", "Input data", "Expected", "Object ", "byte ")


@pytest.fixture
async def found(relais: Relais) -> Resources:
    return await resources(relais)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def test_a_bad_limit_is_a_400_everywhere(relais: Relais, found: Resources) -> None:
    moderator = found.world.moderator
    admin = found.sender.admin
    tried = 0
    for op in operations(relais.gateway.apps):
        if "limit" not in op.query or op.method != "GET":
            continue
        for value in ("0", "100000", "-1", "beaucoup"):
            extra = "&q=valence" if "q" in op.query else ""  # (communes requires it)
            target = url(op.path, found.real) + f"?limit={value}{extra}"
            for headers in (moderator, admin, found.sender.member):
                response = await relais.client.get(target, headers=headers)
                if response.status_code in (401, 403, 404):
                    continue  # this caller may not read it at all
                body = problem(response, 400)
                assert [e["field"] for e in body["errors"]] == ["limit"], (op.path, body)
                assert body["errors"][0]["source"] == "query", (op.path, body)
                tried += 1
                break
            else:
                raise AssertionError(f"no caller may list {op.path}")
    assert tried >= 4 * 10


async def test_a_bad_cursor_is_a_400_naming_the_query_parameter(
    relais: Relais, found: Resources
) -> None:
    tried = 0
    for op in operations(relais.gateway.apps):
        if "cursor" not in op.query or op.method != "GET":
            continue
        extra = "&q=valence" if "q" in op.query else ""
        target = url(op.path, found.real) + f"?cursor=pas-un-curseur{extra}"
        for headers in (found.world.moderator, found.sender.admin, found.sender.member):
            response = await relais.client.get(target, headers=headers)
            if response.status_code in (401, 403, 404):
                continue
            body = problem(response, 400)
            assert body["errors"] == [
                {"field": "cursor", "reason": "curseur invalide ou périmé", "source": "query"}
            ], (op.path, body)
            tried += 1
            break
    assert tried >= 8


async def test_malformed_json_is_a_400_in_french(relais: Relais, found: Resources) -> None:
    tried = 0
    for op in operations(relais.gateway.apps):
        if not op.json_body:
            continue
        target = url(op.path, found.real)
        for content in (b'{"name": "x",', b'{"name" 1}', b"nope", b'{"a": 1} x', b'"\\x"'):
            response = await relais.client.request(
                op.method,
                target,
                content=content,
                headers={
                    **found.world.moderator,
                    "Content-Type": "application/json",
                    "If-Match": '"1"',
                },
            )
            if response.status_code in (401, 403):
                continue
            body = problem(response, 400)
            assert body["type"].endswith("/malformed-body")
            text = body["detail"] + " ".join(e["reason"] for e in body["errors"])
            assert not [word for word in ENGLISH if word in text], text
            assert "JSON" in text
            tried += 1
    assert tried >= 20


async def test_the_scope_is_checked_before_the_body(relais: Relais, found: Resources) -> None:
    """A client without the operation's scope learns that (403), whatever its body holds."""
    unscoped = found.sender.client("stats:read")
    tried = 0
    for op in operations(relais.gateway.apps):
        scopes = op.handler.opt.get(CLIENT_SCOPES)
        if scopes is None or op.method not in ("POST", "PUT", "PATCH"):
            continue
        for content in (b'{"unknown": 1, "name": 12}', b'{"broken": '):
            response = await relais.client.request(
                op.method,
                url(op.path, found.real),
                content=content,
                headers={**unscoped, "Content-Type": "application/json", "If-Match": '"1"'},
            )
            if scopes.granted(_client(relais, "stats:read"), op.method):
                continue
            body = problem(response, 403)
            assert str(scopes.needed(op.method)) in body["detail"]
            assert "insufficient_scope" in response.headers["www-authenticate"]
            tried += 1
    assert tried >= 2 * 20
    # Without a token at all, the answer is 401 before anything is read.
    anonymous = await relais.client.post(
        "/referrals/v1/referrals",
        content=b'{"broken": ',
        headers={"Content-Type": "application/json"},
    )
    problem(anonymous, 401)


def _client(relais: Relais, *scopes: str) -> Any:
    from services.kernel.identity import Caller

    return Caller(subject="c", kind="client", structure_id=uuid.uuid4(), scopes=frozenset(scopes))


async def test_json_bodies_are_only_read_as_json(relais: Relais, found: Resources) -> None:
    tried = 0
    for op in operations(relais.gateway.apps):
        if not op.json_body:
            continue
        for media_type in ("text/plain", "application/x-www-form-urlencoded", "text/csv"):
            response = await relais.client.request(
                op.method,
                url(op.path, found.real),
                content=b'{"name": "Texte"}',
                headers={**found.world.moderator, "Content-Type": media_type, "If-Match": '"1"'},
            )
            if response.status_code in (401, 403):
                continue
            body = problem(response, 415)
            assert [e["field"] for e in body["errors"]] == ["Content-Type"]
            tried += 1
    assert tried >= 3 * 20


async def test_text_types_name_their_charset_once(relais: Relais, found: Resources) -> None:
    moderator = found.world.moderator
    answers = [
        await relais.client.get("/referrals/v1/stats", params={"format": "csv"}, headers=moderator),
        await relais.client.get(
            "/directory/v1/exports/data-inclusion/structures", params={"format": "csv"}
        ),
        await relais.client.get("/auth/password/forgot"),
        await relais.client.get("/a-propos"),
    ]
    types = [answer.headers["content-type"] for answer in answers]
    assert [answer.status_code for answer in answers] == [200] * 4, types
    assert types[:2] == ["text/csv; charset=utf-8"] * 2
    assert types[2:] == ["text/html; charset=utf-8"] * 2


async def test_operations_are_summarised_by_sentences(client: httpx.AsyncClient) -> None:
    for service in ("directory", "referrals", "auth"):
        document = (await client.get(f"/{service}/docs/openapi.json")).json()
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                summary = operation.get("summary", "")
                where = (method, path, summary)
                assert " " in summary, where
                assert summary != operation["operationId"], where
                assert summary[0].isupper(), where


async def test_the_upload_documents_its_body(client: httpx.AsyncClient) -> None:
    document = (await client.get("/referrals/docs/openapi.json")).json()
    upload = document["paths"]["/referrals/v1/referrals/{referral_id}/attachments"]["post"]
    body = upload["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {"application/pdf", "image/png", "image/jpeg"}
    assert PDF.startswith(b"%PDF-")
