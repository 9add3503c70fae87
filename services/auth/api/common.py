"""Helpers shared by the auth controllers."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.keys import KeyRing, KeySnapshot
from services.auth.oauth.adapter import OAuthResult, RawRequest

MAX_FIELD = 4096


def _field(value: str) -> str:
    """A protocol parameter as the OAuth server reads it: at most MAX_FIELD characters, and a NUL
    (which no identifier, secret or URI holds, and PostgreSQL cannot compare) replaced by U+FFFD
    so the value still matches nothing and fails with an RFC 6749 error."""
    return value[:MAX_FIELD].replace("\x00", "\ufffd")


async def raw_request(request: Request[Any, Any, Any]) -> RawRequest:
    query: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(_field(key), []).append(_field(str(value)))
    form: dict[str, list[str]] = {}
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            data = await request.form()
            for key, value in data.multi_items():
                if isinstance(value, str):
                    form.setdefault(_field(key), []).append(_field(value))
    headers = {"Authorization": request.headers.get("authorization", "")}
    return RawRequest(
        method=request.method, path=request.url.path, headers=headers, query=query, form=form
    )


async def key_snapshot(request: Request[Any, Any, Any], session: AsyncSession) -> KeySnapshot:
    keyring: KeyRing = request.app.state.keyring
    return await keyring.snapshot(session)


def oauth_response(result: OAuthResult) -> Response[Any]:
    status, body, headers = result
    header_map = {k: v for k, v in headers}
    header_map.setdefault("Cache-Control", "no-store")
    if isinstance(body, list):
        body = dict(body)
    if body == "":
        return Response(b"", status_code=status, headers=header_map)
    header_map.pop("Content-Type", None)
    return Response(body, status_code=status, headers=header_map, media_type="application/json")


def client_address(request: Request[Any, Any, Any]) -> str:
    client = request.client
    return client.host if client else "unknown"
