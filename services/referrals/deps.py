"""Dependencies of the referrals controllers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from litestar import Request
from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.app import provide_session
from services.kernel.identity import Caller
from services.kernel.problems import FieldError, ProblemError
from services.kernel.settings import Settings
from services.referrals.crypto import Keyring, load_keyring
from services.referrals.service import ReferralService
from services.referrals.service.attachments import AttachmentService
from services.referrals.service.reading import ReadingService

# Documented headers (read by the handlers through the request; declared for the OpenAPI).
IdempotencyKey = Annotated[
    str | None,
    Parameter(
        header="Idempotency-Key",
        required=False,
        description="clé d'idempotence : une nouvelle tentative renvoie la première réponse",
    ),
]
IfMatch = Annotated[
    str | None,
    Parameter(
        header="If-Match",
        required=False,
        description="ETag (version) lu ; requis pour les transitions (428 sinon, 412 si périmé)",
    ),
]


class KeyringHolder:
    """Loads the keyring on first use (the key file is created only when data is written)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._keyring: Keyring | None = None

    def get(self) -> Keyring:
        if self._keyring is None:
            self._keyring = load_keyring(self.settings)
        return self._keyring


async def provide_session_once_authenticated(
    request: Request[Any, Any, Any], authenticated: Caller
) -> AsyncGenerator[AsyncSession, None]:
    """The kernel's request session, opened once the caller is authenticated (every referrals
    route that uses a session is authenticated). The handler's dependencies then form a chain
    (caller, authenticated, session, svc): Litestar resolves a chain one after the other, where
    independent dependencies cost a task group each (~40 us a request)."""
    async with _request_session(request) as session:
        yield session


_request_session = asynccontextmanager(provide_session)


async def public_session(request: Request[Any, Any, Any]) -> AsyncGenerator[AsyncSession, None]:
    """The request session of the public routes (the person's follow-up, by code)."""
    async with _request_session(request) as session:
        yield session


async def provide_service(state: State, session: AsyncSession) -> ReferralService:
    holder: KeyringHolder = state.keyring
    return ReferralService(session, holder.get(), state.settings)


async def provide_reading(state: State, session: AsyncSession) -> ReadingService:
    holder: KeyringHolder = state.keyring
    return ReadingService(session, holder.get(), state.settings)


async def provide_attachments(state: State, session: AsyncSession) -> AttachmentService:
    holder: KeyringHolder = state.keyring
    return AttachmentService(session, holder.get(), state.settings)


def etag(version: int) -> str:
    return f'"{version}"'


def if_match(request: Request[Any, Any, Any], *, required: bool) -> int | None:
    """The handoff version the client last saw (``If-Match: "3"``); ``*`` matches any."""
    raw = request.headers.get("if-match")
    if raw is None:
        if required:
            raise ProblemError(
                428,
                "En-tête If-Match requis : renvoyez l'ETag (version) de la transmission lue.",
            )
        return None
    value = raw.strip()
    if value == "*":
        return None
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit() or len(value) > 9:
        raise ProblemError(
            400,
            'En-tête If-Match invalide : attendu l\'ETag de la transmission, par exemple "3".',
            errors=[FieldError(field="If-Match", reason="format invalide", source="header")],
        )
    return int(value)
