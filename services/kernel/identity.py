"""Who calls: the API scopes, the roles within a structure or the network, and the ``Caller``
built from a verified token. Plain values (no I/O), so the command line can name scopes without
loading the token verifier and its HTTP client."""

from __future__ import annotations

import enum
import uuid
from typing import Literal

import msgspec


class Scope(enum.StrEnum):
    DIRECTORY_READ = "directory:read"
    DIRECTORY_WRITE = "directory:write"
    REFERRALS_READ = "referrals:read"
    REFERRALS_WRITE = "referrals:write"
    STATS_READ = "stats:read"
    WEBHOOKS_MANAGE = "webhooks:manage"


class Role(enum.StrEnum):
    MEMBER = "member"
    ADMIN = "admin"
    MODERATOR = "moderator"


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: a staff user acting for a structure, or an API client bound to one."""

    subject: str
    kind: Literal["user", "client"]
    client_id: str | None = None
    structure_id: uuid.UUID | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    token_id: str | None = None

    @property
    def is_moderator(self) -> bool:
        return self.kind == "user" and Role.MODERATOR in self.roles

    def acts_for(self, structure_id: uuid.UUID | None) -> bool:
        return structure_id is not None and self.structure_id == structure_id

    def has_scope(self, scope: Scope) -> bool:
        return scope in self.scopes

    def is_admin_of(self, structure_id: uuid.UUID | None) -> bool:
        return self.kind == "user" and self.acts_for(structure_id) and Role.ADMIN in self.roles

    def is_member_of(self, structure_id: uuid.UUID | None) -> bool:
        return (
            self.kind == "user"
            and self.acts_for(structure_id)
            and bool({Role.MEMBER, Role.ADMIN} & self.roles)
        )

    def may(self, scope: Scope, structure_id: uuid.UUID | None, *, admin: bool = False) -> bool:
        """Users act through their role in the structure, clients through a scope on it."""
        if self.kind == "client":
            return self.has_scope(scope) and self.acts_for(structure_id)
        return self.is_admin_of(structure_id) if admin else self.is_member_of(structure_id)
