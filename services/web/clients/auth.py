"""The auth service's public API: the OpenID Connect endpoints (as the web app's client) and the
account API (as the signed-in person)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from services.web.clients.base import ApiClient

PREFIX = "/auth"


class Tokens(msgspec.Struct, kw_only=True):
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    id_token: str | None = None
    scope: str = ""


class Membership(msgspec.Struct, kw_only=True):
    structure_id: uuid.UUID
    role: str


class Me(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    email: str
    name: str
    is_moderator: bool = False
    memberships: list[Membership] = []
    acting_for: uuid.UUID | None = None


class Member(msgspec.Struct, kw_only=True):
    account_id: uuid.UUID
    email: str
    name: str
    status: str
    role: str
    last_login_at: datetime | None = None


class Colleague(msgspec.Struct, kw_only=True):
    account_id: uuid.UUID
    name: str


class Invitation(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    email: str
    role: str
    expires_at: datetime
    created_at: datetime | None = None


class ApiClientRead(msgspec.Struct, kw_only=True):
    client_id: str
    name: str
    scopes: list[str] = []
    grant_types: list[str] = []
    redirect_uris: list[str] = []
    created_at: datetime
    revoked_at: datetime | None = None


class ApiClientCreated(msgspec.Struct, kw_only=True):
    client_id: str
    client_secret: str | None = None
    name: str


class OidcApi(ApiClient):
    """Token endpoint calls, authenticated as the web app (confidential client)."""

    def __init__(self, http: object, client_id: str, secret: str) -> None:
        super().__init__(http)  # type: ignore[arg-type]
        self.credentials = (client_id, secret)

    async def _token(self, form: dict[str, str]) -> Tokens:
        response = await self.send("POST", f"{PREFIX}/token", data=form, auth=self.credentials)
        return msgspec.json.decode(response.content, type=Tokens)

    async def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> Tokens:
        return await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            }
        )

    async def refresh(self, refresh_token: str, structure_id: uuid.UUID | None = None) -> Tokens:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if structure_id is not None:
            form["structure_id"] = str(structure_id)
        return await self._token(form)

    async def revoke(self, refresh_token: str) -> None:
        await self.send(
            "POST",
            f"{PREFIX}/revoke",
            data={"token": refresh_token, "token_type_hint": "refresh_token"},
            auth=self.credentials,
        )


class AuthApi(ApiClient):
    """The account API (``/auth/v1``), as the signed-in person."""

    async def me(self) -> Me:
        return await self.get(f"{PREFIX}/v1/me", Me)

    async def members(self, structure_id: uuid.UUID) -> list[Member]:
        return await self.get(f"{PREFIX}/v1/structures/{structure_id}/members", list[Member])

    async def colleagues(self, structure_id: uuid.UUID) -> list[Colleague]:
        """Active members of my structure, by name (every member may read them)."""
        return await self.get(f"{PREFIX}/v1/structures/{structure_id}/colleagues", list[Colleague])

    async def remove_member(self, structure_id: uuid.UUID, account_id: uuid.UUID) -> None:
        await self.send("DELETE", f"{PREFIX}/v1/structures/{structure_id}/members/{account_id}")

    async def set_role(self, structure_id: uuid.UUID, account_id: uuid.UUID, role: str) -> None:
        await self.send(
            "PATCH",
            f"{PREFIX}/v1/structures/{structure_id}/members/{account_id}",
            json={"role": role},
        )

    async def invitations(self, structure_id: uuid.UUID) -> list[Invitation]:
        return await self.get(
            f"{PREFIX}/v1/structures/{structure_id}/invitations", list[Invitation]
        )

    async def invite(self, structure_id: uuid.UUID, email: str, role: str) -> Invitation:
        response = await self.send(
            "POST",
            f"{PREFIX}/v1/structures/{structure_id}/invitations",
            json={"email": email, "role": role},
        )
        return msgspec.json.decode(response.content, type=Invitation)

    async def resend_invitation(self, structure_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
        await self.send(
            "POST", f"{PREFIX}/v1/structures/{structure_id}/invitations/{invitation_id}/resend"
        )

    async def revoke_invitation(self, structure_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
        await self.send(
            "DELETE", f"{PREFIX}/v1/structures/{structure_id}/invitations/{invitation_id}"
        )

    async def clients(self, structure_id: uuid.UUID) -> list[ApiClientRead]:
        return await self.get(f"{PREFIX}/v1/structures/{structure_id}/clients", list[ApiClientRead])

    async def create_client(
        self, structure_id: uuid.UUID, name: str, scopes: list[str]
    ) -> ApiClientCreated:
        response = await self.send(
            "POST",
            f"{PREFIX}/v1/structures/{structure_id}/clients",
            json={"name": name, "scopes": scopes},
        )
        return msgspec.json.decode(response.content, type=ApiClientCreated)

    async def revoke_client(self, structure_id: uuid.UUID, client_id: str) -> None:
        await self.send("DELETE", f"{PREFIX}/v1/structures/{structure_id}/clients/{client_id}")
