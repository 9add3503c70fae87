"""What every API client shares: the HTTP call, problem+json errors, decoding into structs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import httpx
import msgspec

T = TypeVar("T")
Params = Mapping[str, str | int | float | bool | Sequence[str] | None]


class FieldProblem(msgspec.Struct, kw_only=True):
    field: str
    reason: str


class Problem(msgspec.Struct, kw_only=True):
    """An RFC 9457 answer of a service, as much of it as the pages show."""

    status: int
    title: str = ""
    detail: str | None = None
    type: str = ""
    errors: list[FieldProblem] | None = None


class ApiError(Exception):
    """A service answered with an error the page must deal with (its problem document)."""

    def __init__(self, problem: Problem, headers: httpx.Headers | None = None) -> None:
        super().__init__(f"{problem.status} {problem.detail or problem.title}")
        self.problem = problem
        self.status = problem.status
        self.headers = headers or httpx.Headers()

    @classmethod
    def not_found(cls) -> ApiError:
        return cls(Problem(status=404, title="Ressource introuvable"))

    def field_errors(self) -> dict[str, str]:
        """Field -> reason, for the messages next to each form field."""
        found: dict[str, str] = {}
        for error in self.problem.errors or []:
            found.setdefault(error.field, error.reason)
        return found


class Unavailable(ApiError):
    """The service could not be reached, or says it (or its database) is down: retry later."""


_PROBLEM = msgspec.json.Decoder(Problem)


def _problem(response: httpx.Response) -> Problem:
    try:
        problem = _PROBLEM.decode(response.content)
    except msgspec.DecodeError:
        return Problem(status=response.status_code, title=response.reason_phrase)
    if problem.status != response.status_code:
        problem.status = response.status_code
    return problem


class ApiClient:
    """One service's API for one caller (``token``: the signed-in person's access token)."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = http
        self.token = token

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        """``json`` (encoded here), a form (``data``) or raw ``content`` typed by ``headers``."""
        query = {k: v for k, v in (params or {}).items() if v is not None and v != [] and v != ""}
        all_headers = self._headers(headers)
        if json is not None:
            content = msgspec.json.encode(json)
            all_headers["Content-Type"] = "application/json"
        try:
            response = await self.http.request(
                method,
                path,
                params=query,  # type: ignore[arg-type]
                content=content,
                data=data,
                headers=all_headers,
                auth=auth,
            )
        except httpx.HTTPError as exc:
            raise Unavailable(Problem(status=503, title=type(exc).__name__)) from exc
        if response.status_code >= 500:
            raise Unavailable(_problem(response), response.headers)
        if response.status_code >= 400:
            raise ApiError(_problem(response), response.headers)
        return response

    async def get(self, path: str, into: type[T], *, params: Params | None = None) -> T:
        response = await self.send("GET", path, params=params)
        return msgspec.json.decode(response.content, type=into)

    async def get_tagged(self, path: str, into: type[T]) -> tuple[T, str]:
        """A resource and its ETag (for a later If-Match)."""
        response = await self.send("GET", path)
        return msgspec.json.decode(response.content, type=into), response.headers.get("etag", "")

    async def write(
        self,
        method: str,
        path: str,
        into: type[T],
        *,
        json: Any = None,
        etag: str | None = None,
    ) -> tuple[T, str]:
        headers = {"If-Match": etag} if etag else None
        response = await self.send(method, path, json=json, headers=headers)
        return msgspec.json.decode(response.content, type=into), response.headers.get("etag", "")
