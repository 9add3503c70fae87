"""Public contract of the auth service (msgspec Structs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
MemberRole = Literal["member", "admin"]


class OpenIDConfiguration(msgspec.Struct, kw_only=True):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    introspection_endpoint: str
    revocation_endpoint: str
    end_session_endpoint: str
    scopes_supported: list[str]
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    code_challenge_methods_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    claims_supported: list[str]


class OAuthError(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An OAuth 2 protocol error (RFC 6749 §5.2), not problem+json: clients' libraries parse
    this shape."""

    error: str
    error_description: str | None = None
    error_uri: str | None = None


class UserInfo(msgspec.Struct, kw_only=True):
    sub: str
    email: str
    email_verified: bool
    name: str
    structure_id: str | None
    roles: list[str]


class MembershipRead(msgspec.Struct, kw_only=True):
    structure_id: uuid.UUID
    role: MemberRole


class MeRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    email: str
    name: str
    status: str
    is_moderator: bool
    memberships: list[MembershipRead]
    acting_for: uuid.UUID | None


class MemberRead(msgspec.Struct, kw_only=True):
    account_id: uuid.UUID
    email: str
    name: str
    status: str
    role: MemberRole
    last_login_at: datetime | None


class ColleagueRead(msgspec.Struct, kw_only=True):
    """A member of my structure, as every member may see them (to hand over a follow-up)."""

    account_id: uuid.UUID
    name: str


class InvitationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email
    role: MemberRole = "member"


class InvitationRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    email: str
    structure_id: uuid.UUID
    role: MemberRole
    expires_at: datetime


Grant = Literal["client_credentials", "authorization_code"]
RedirectUri = Annotated[str, msgspec.Meta(min_length=8, max_length=2000)]


class ClientCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``client_credentials``: a tool acting for the structure with API ``scopes``.
    ``authorization_code``: an application people sign in to (PKCE S256, refresh tokens),
    acting as each person within their roles; ``scopes`` are then OpenID scopes (default
    ``openid profile email``), ``redirect_uris`` are required (https, or http on loopback) and
    ``public`` clients (apps that cannot keep a secret) get no secret."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    scopes: Annotated[list[str], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=list)
    grant_type: Grant = "client_credentials"
    redirect_uris: Annotated[list[RedirectUri], msgspec.Meta(max_length=10)] = msgspec.field(
        default_factory=list
    )
    public: bool = False


class ClientRead(msgspec.Struct, kw_only=True):
    client_id: str
    name: str
    structure_id: uuid.UUID | None
    scopes: list[str]
    grant_types: list[str]
    created_at: datetime
    revoked_at: datetime | None
    redirect_uris: list[str] = msgspec.field(default_factory=list)
    public: bool = False


class ClientCreated(msgspec.Struct, kw_only=True):
    """The secret is shown here once and never again (only its hash is stored); public
    clients have none."""

    client_id: str
    client_secret: str | None
    name: str
    structure_id: uuid.UUID
    scopes: list[str]
    grant_types: list[str]
    redirect_uris: list[str] = msgspec.field(default_factory=list)


class MemberUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    role: MemberRole


class PendingInvitation(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    email: str
    role: MemberRole
    created_at: datetime
    expires_at: datetime


class AccountStatusUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    status: Literal["active", "disabled"]


class PasswordResetRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]


class RevokedTokens(msgspec.Struct, kw_only=True):
    """Access tokens revoked before they expire (they drop off the list once expired)."""

    jti: list[str]
