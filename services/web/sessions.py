"""Who is looking at the page: the signed-in person (from the server-side session) or nobody.

The access token is renewed shortly before it expires, by one request at a time (refresh tokens
are single use, a replay would end the whole sign-in); the others go on with the current token,
which is still valid. A refusal from auth (account disabled, sign-in revoked) ends the session.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import msgspec
import structlog
from litestar import Request
from litestar.datastructures import Cookie

from services.kernel.clock import utcnow
from services.kernel.db import Database
from services.kernel.settings import Settings
from services.web import store
from services.web.clients.auth import OidcApi, Tokens
from services.web.clients.base import ApiError, Unavailable
from services.web.crypto import Sealer
from services.web.models import WebSession

log = structlog.get_logger("relais.web.sessions")
COOKIE = "relais_web"
RENEW_BEFORE = timedelta(minutes=2)


@dataclass(frozen=True)
class Membership:
    structure_id: uuid.UUID
    role: str
    name: str


@dataclass(frozen=True)
class Staff:
    """The signed-in person, acting for one structure."""

    session_id: uuid.UUID
    account_id: uuid.UUID
    name: str
    email: str
    is_moderator: bool
    structure_id: uuid.UUID | None
    roles: tuple[str, ...]
    memberships: tuple[Membership, ...]
    csrf: str
    access_token: str = field(repr=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles or "moderator" in self.roles

    @property
    def structure_name(self) -> str:
        for m in self.memberships:
            if m.structure_id == self.structure_id:
                return m.name
        return "le réseau (modération)" if self.structure_id is None else "votre structure"


def cookie(settings: Settings, value: str, *, max_age: int | None = None) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=value,
        path="/",
        httponly=True,
        secure=settings.base_url.startswith("https://"),
        samesite="lax",
        max_age=max_age,
    )


def token_values(sealer: Sealer, session_id: uuid.UUID, tokens: Tokens) -> dict[str, Any]:
    """Columns of a session holding these tokens (sealed, bound to the session's id)."""
    context = str(session_id)
    values: dict[str, Any] = {
        "access_token": sealer.seal(tokens.access_token, context),
        "access_expires_at": utcnow() + timedelta(seconds=tokens.expires_in),
    }
    if tokens.refresh_token:
        values["refresh_token"] = sealer.seal(tokens.refresh_token, context)
    if tokens.id_token:
        values["id_token"] = sealer.seal(tokens.id_token, context)
    return values


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT received straight from auth's token endpoint (trusted channel, so
    no signature check here: the services that get the token verify it)."""
    try:
        payload = token.split(".")[1]
        decoded = msgspec.json.decode(_b64(payload))
    except (IndexError, ValueError, msgspec.DecodeError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _b64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Sessions of the web app: lookup, renewal, end."""

    def __init__(self, settings: Settings, db: Database, oidc: OidcApi, sealer: Sealer) -> None:
        self.settings = settings
        self.db = db
        self.oidc = oidc
        self.sealer = sealer
        self.idle = timedelta(minutes=settings.web_session_idle_minutes)

    def staff_of(self, row: WebSession, access_token: str) -> Staff:
        return Staff(
            session_id=row.id,
            account_id=row.account_id,
            name=row.name,
            email=row.email,
            is_moderator=row.is_moderator,
            structure_id=row.structure_id,
            roles=tuple(row.roles),
            memberships=tuple(
                Membership(uuid.UUID(m["structure_id"]), m["role"], m["name"])
                for m in row.memberships
            ),
            csrf=row.csrf,
            access_token=access_token,
        )

    async def current(self, request: Request[Any, Any, Any]) -> Staff | None:
        key = request.cookies.get(COOKIE)
        if not key or len(key) > 100:
            return None
        for _ in range(20):
            async with self.db.session() as session:
                row = await store.find_session(session, key, self.idle)
                if row is None:
                    return None
                access = self.sealer.open(row.access_token, str(row.id))
                if access is None:
                    await store.close_session(session, row.id)
                    return None
                now = utcnow()
                if row.access_expires_at - now > RENEW_BEFORE:
                    await store.touch(session, row)
                    return self.staff_of(row, access)
                won = await store.claim_refresh(session, row)
            if won:
                return await self._renew(row)
            if row.access_expires_at > now:
                return self.staff_of(row, access)  # another request renews it; still valid
            await asyncio.sleep(0.1)
        return None

    async def _renew(self, row: WebSession, structure_id: uuid.UUID | None = None) -> Staff | None:
        refresh = self.sealer.open(row.refresh_token, str(row.id))
        tokens: Tokens | None = None
        if refresh is not None:
            try:
                tokens = await self.oidc.refresh(refresh, structure_id)
            except Unavailable:
                raise
            except ApiError as exc:
                log.info("web_session_refused", status=exc.status)
        async with self.db.session() as session:
            if tokens is None:
                await store.close_session(session, row.id)
                return None
            values = token_values(self.sealer, row.id, tokens)
            claims = claims_of(tokens.access_token)
            sid = claims.get("structure_id")
            values["structure_id"] = uuid.UUID(sid) if sid else None
            values["roles"] = list(claims.get("roles", []))
            values["last_seen_at"] = utcnow()
            await store.save_tokens(session, row.id, values)
            fresh = await session.get(WebSession, row.id, populate_existing=True)
            if fresh is None:
                return None
            return self.staff_of(fresh, tokens.access_token)

    async def switch(self, staff: Staff, structure_id: uuid.UUID) -> Staff | None:
        """Act for another of the person's structures (a new token from auth)."""
        async with self.db.session() as session:
            row = await session.get(WebSession, staff.session_id)
            if row is None or not await store.claim_refresh(session, row):
                return None
        return await self._renew(row, structure_id)

    async def end(self, staff: Staff) -> str | None:
        """Sign out: the refresh token (and its whole family) is revoked at auth. Returns the
        session's ID token, the hint auth's end-session page needs to end the sign-in there."""
        async with self.db.session() as session:
            row = await session.get(WebSession, staff.session_id)
            if row is None:
                return None
            refresh = self.sealer.open(row.refresh_token, str(row.id))
            id_token = self.sealer.open(row.id_token, str(row.id)) if row.id_token else None
            await store.close_session(session, row.id)
        if refresh is not None:
            await self.revoke(refresh)
        return id_token

    async def purge(self) -> int:
        """Delete the sessions ended by inactivity or age (and abandoned sign-ins), revoking
        their refresh tokens at auth: nothing stays usable there for a session gone here."""
        async with self.db.session() as session:
            ended, sign_ins = await store.purge(session, self.idle)
        for row_id, sealed in ended:
            refresh = self.sealer.open(sealed, str(row_id))
            if refresh is not None:
                await self.revoke(refresh)
        return len(ended) + sign_ins

    async def revoke(self, refresh: str) -> None:
        try:
            await self.oidc.revoke(refresh)
        except ApiError as exc:  # the session is gone here either way
            log.warning("web_revoke_failed", status=exc.status)
