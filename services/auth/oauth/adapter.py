"""What authlib sees of a Relais request (a framework-neutral snapshot, safe in a worker thread)
and of a registered client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.util import scope_to_list

from services.auth.store.clients import ClientInfo

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
CONFIDENTIAL_METHODS = {"client_secret_basic", "client_secret_post"}
# The URI authlib sees: TLS is enforced where it terminates (RELAIS_BASE_URL, reverse proxy).
_INTERNAL_ORIGIN = "https://relais.internal"

OAuthResult = tuple[int, Any, list[tuple[str, str]]]


@dataclass(frozen=True)
class RawRequest:
    """A framework-neutral snapshot of the HTTP request, safe to read from the worker thread."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: dict[str, list[str]]
    form: dict[str, list[str]]


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, datalist: dict[str, list[str]]) -> None:
        self._datalist = datalist
        self._data = {k: v[0] for k, v in datalist.items() if v}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:  # type: ignore[override]
        return self._datalist


class RelaisRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, raw: RawRequest) -> None:
        super().__init__(raw.method, _INTERNAL_ORIGIN + raw.path, headers=raw.headers)
        merged: dict[str, list[str]] = {k: list(v) for k, v in raw.query.items()}
        if raw.method == "POST":
            for key, values in raw.form.items():
                merged.setdefault(key, []).extend(values)
        self.payload = _Payload(merged)
        self._args = {k: v[0] for k, v in raw.query.items() if v}
        self._form = {k: v[0] for k, v in raw.form.items() if v}

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class OAuthClient(ClientMixin):  # type: ignore[misc]
    def __init__(self, info: ClientInfo) -> None:
        self.info = info
        self.client_id = info.client_id

    def get_client_id(self) -> str:
        return self.info.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # redirect_uri is always required and matched exactly

    def get_allowed_scope(self, scope: str | None) -> str | None:
        if not scope:
            return " ".join(self.info.scopes)
        requested = scope_to_list(scope)
        if not set(requested) <= set(self.info.scopes):
            return None
        return " ".join(requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.info.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        from services.auth.crypto import same_digest

        return same_digest(client_secret, self.info.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.info.auth_method == "none":
            return method == "none"
        return method in CONFIDENTIAL_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.info.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.info.grant_types
