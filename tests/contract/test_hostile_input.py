"""Hostile input sent to every route of every service, anonymously and as callers of every kind:
a NUL character in each query parameter, path parameter, JSON and form field; invalid UTF-8;
JSON nested beyond reason; numbers too large for the database; a misspelt query parameter. None
makes a server error; each is a 4xx problem+json naming the parameter or field at fault, and a
query parameter an operation does not declare is a 400 naming it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import msgspec

from services.gateway import SITE
from services.kernel.pagination import encode_cursor
from tests.conftest import Relais
from tests.contract.routes import (
    ALL_SCOPES,
    PARAMETER,
    PDF,
    Operation,
    operations,
    resources,
    url,
)

NUL = "a\x00b"
# Form fields the auth pages and OAuth endpoints read (their bodies are not declared types).
FORM_FIELDS = (
    "email", "password", "password_confirm", "token", "csrf_token", "client_id",
    "client_secret", "grant_type", "scope", "redirect_uri", "code", "code_verifier",
    "refresh_token", "structure_id", "decision", "next", "state", "nonce",
)  # fmt: skip
FORGED_CURSORS = [
    encode_cursor(values)
    for values in (
        [NUL] * 6,
        [NUL, 1.0, NUL, NUL, 1.0, 1.0],
        [10**30, 10**30],
        [-(10**30)],
        [NUL, str(uuid.uuid4())],
        ["2026-01-01T00:00:00Z", NUL],
    )
]


def names(response: httpx.Response, name: str) -> bool:
    """Whether an error answer names this parameter or field: in the problem's ``errors``, or
    on the web app's HTML error page."""
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("text/html"):
        return name in response.text
    if not content_type.startswith("application/problem+json"):
        return False
    return name in {e["field"] for e in response.json().get("errors") or []}


def named_any(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "")
    return content_type.startswith("application/problem+json") and bool(
        response.json().get("errors")
    )


async def test_hostile_input_never_makes_a_server_error(relais: Relais) -> None:
    found = await resources(relais)
    world, sender, receiver, real = found.world, found.sender, found.receiver, found.real
    callers = {
        "anonymous": {},
        "moderator": world.moderator,
        "sender admin": sender.admin,
        "receiver member": receiver.member,
        "client": sender.client(*ALL_SCOPES),
    }
    ops = operations(world.relais.gateway.apps)
    assert {o.service for o in ops} >= {"directory", "referrals", "auth", SITE}
    assert len(ops) >= 100
    prober = Prober(world.client, callers)
    for op in ops:
        target = url(op.path, real)
        for caller in callers:
            await prober.query(op, target, caller)
            for name, kind in PARAMETER.findall(op.path):
                if kind == "str":  # a NUL and invalid UTF-8 in each text path parameter
                    for bad in ("a%00b", "%ff%fe"):
                        where = url(op.path, real, {name: bad})
                        await prober.send(op, f"path {name}", caller, where)
            if op.method in ("POST", "PUT", "PATCH"):
                await prober.bodies(op, target, caller)
    print(f"hostile input: {prober.count} requests, {len(prober.failures)} failures")
    assert prober.failures == [], "\n".join(sorted(set(prober.failures))[:60])


class Prober:
    """Sends the hostile requests and keeps what went wrong."""

    def __init__(self, client: httpx.AsyncClient, callers: dict[str, dict[str, str]]) -> None:
        self.client = client
        self.callers = callers
        self.count = 0
        self.failures: list[str] = []

    async def send(
        self, op: Operation, label: str, caller: str, target: str, **request: Any
    ) -> httpx.Response:
        # (a version, so that versioned writes get past their 428 to the input under test)
        headers = {"If-Match": '"1"', **self.callers[caller], **request.pop("headers", {})}
        response = await self.client.request(op.method, target, headers=headers, **request)
        self.count += 1
        if response.status_code >= 500:
            self.fail(op, f"{label}, {caller}", f"{response.status_code} {response.text}")
        return response

    def fail(self, op: Operation, label: str, what: str) -> None:
        self.failures.append(f"{op.method} {op.path} [{label}]: {what[:200]}")

    async def query(self, op: Operation, target: str, caller: str) -> None:
        for name in op.query:
            # A NUL: 400 naming the parameter (protocol endpoints answer in their own format).
            response = await self.send(op, f"query {name}", caller, f"{target}?{name}=a%00b")
            named = response.status_code == 400 and names(response, name)
            if not (op.protocol or named or response.status_code in (401, 403)):
                self.fail(op, f"NUL in {name}", response.text)
            # Integers no database column holds (sent to every parameter: most are numbers).
            for number in ("1" + "0" * 30, "-" + "9" * 25):
                await self.send(op, f"int {name}", caller, f"{target}?{name}={number}")
            await self.send(op, f"utf-8 {name}", caller, f"{target}?{name}=%ff%fe")
            if name in ("cursor", "after"):  # forged to carry what a database cannot compare
                for forged in FORGED_CURSORS:
                    await self.send(op, f"cursor {name}", caller, f"{target}?{name}={forged}")
        # A misspelt parameter: never silently ignored.
        response = await self.send(op, "unknown query", caller, f"{target}?comune=26362")
        named = response.status_code == 400 and names(response, "comune")
        if not (op.open_query or named or response.status_code in (401, 403)):
            self.fail(op, "?comune=", f"{response.status_code} {response.text}")

    async def bodies(self, op: Operation, target: str, caller: str) -> None:
        json_headers = {"Content-Type": "application/json", "If-Match": '"1"'}
        hostile = {
            "json NUL": msgspec.json.encode(
                {field: NUL for field in op.fields} | {"extra": {"nested": [NUL]}}
            ),
            "json NUL key": msgspec.json.encode({NUL: "x"}),
            "json invalid UTF-8": b'{"name": "\xff\xfe"}',
            "json nested": b"[" * 50_000 + b"]" * 50_000,
            "json nested objects": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
            "json huge int": b'{"limit": 1' + b"0" * 40 + b"}",
        }
        for label, content in hostile.items():
            response = await self.send(
                op, label, caller, target, content=content, headers=json_headers
            )
            unnamed = response.status_code in (400, 422) and not named_any(response)
            if op.json_body and unnamed:
                self.fail(op, label, response.text)
        form = {field: NUL for field in (*FORM_FIELDS, *op.fields)}
        await self.send(op, "form NUL", caller, target, data=form)
        form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        invalid = b"email=%ff%fe&password=\xff"
        await self.send(op, "form UTF-8", caller, target, content=invalid, headers=form_headers)
        upload = {"file": ("a\x00b.pdf", PDF, "application/pdf")}
        await self.send(op, "multipart NUL", caller, target, data={"name": NUL}, files=upload)
