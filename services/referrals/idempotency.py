"""``Idempotency-Key`` on every POST: a retry returns the first response and creates nothing.

The key is scoped to the caller. The first successful response is stored (body encrypted, it may
hold personal data) with a hash of the request; the same key with another request is a 422.
Concurrent requests with one key: the second insert fails on the primary key, its transaction
(or its one statement, on the optimistic path) rolls back, and it answers with the stored
response.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec
import sqlalchemy as sa
from litestar import Request, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.clock import utcnow
from services.kernel.problems import FieldError, ProblemError
from services.referrals import models as m
from services.referrals.domain.consent import Category
from services.referrals.domain.transitions import Actor
from services.referrals.models import IDEMPOTENCY
from services.referrals.pgwrites import DuplicateIdempotencyKey, StaleWrite
from services.referrals.service import ReferralService

HEADER = "idempotency-key"
# How long a key is remembered (a retry after that is a new request).
RETENTION = timedelta(hours=24)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    status_code: int
    body: T
    headers: dict[str, str] = field(default_factory=dict)
    referral_id: uuid.UUID | None = None
    # Personal categories the body shows: a replay shows them only while the caller still may.
    shown: frozenset[Category] = frozenset()


def _context(owner: str, key: str) -> str:
    return f"idempotency:{owner}:{key}"


async def _request_hash(request: Request[Any, Any, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b" ")
    digest.update(request.url.path.encode())
    digest.update(b"\n")
    digest.update(request.headers.get("content-type", "").encode())
    digest.update(b"\n")
    digest.update(await request.body())
    return digest.hexdigest()


async def _replay(
    record: m.IdempotencyRecord,
    request_hash: str,
    svc: ReferralService,
    actor: Actor,
    kind: type[T],
) -> Response[T]:
    if record.request_hash != request_hash:
        raise ProblemError(
            422,
            "Cette clé Idempotency-Key a déjà servi pour une autre requête.",
            errors=[
                FieldError(
                    field="Idempotency-Key",
                    reason="clé déjà utilisée avec un autre contenu",
                    source="header",
                )
            ],
        )
    if record.response_enc is None:
        raise ProblemError(
            410,
            "La réponse d'origine contenait des données personnelles effacées depuis "
            "(retrait du consentement) ; elle ne peut plus être rejouée.",
        )
    if record.categories and record.referral_id is not None:
        loaded = await svc.load(record.referral_id)
        if loaded is None or not loaded.view(actor.structure_id, utcnow()).covers(
            record.categories
        ):
            raise ProblemError(
                410,
                "La réponse d'origine contenait des données personnelles que le consentement ne "
                "permet plus à votre structure de voir ; elle ne peut plus être rejouée.",
            )
    raw = svc.keyring.open(record.response_enc, _context(record.owner, record.key))
    body = msgspec.json.decode(raw.encode(), type=kind)
    return Response(
        body,
        status_code=record.status_code,
        headers={**record.headers, "Idempotent-Replayed": "true"},
    )


# An optimistic write that lost its race to another writer of the same referral is planned
# again on a fresh read; after this many tries, the caller is told to retry (409).
ATTEMPTS = 5


async def idempotent(
    request: Request[Any, Any, Any],
    svc: ReferralService,
    actor: Actor,
    kind: type[T],
    run: Callable[[], Awaitable[Outcome[T]]],
) -> Response[T]:
    """Run the flow, store its response under the request's Idempotency-Key (if any) with the
    flow's own changes, and write them (``svc.flush``): all in one transaction, or in one
    statement when the service writes optimistically."""
    key = request.headers.get(HEADER)
    owner = request_hash = ""
    if key is not None:
        if not _KEY.match(key):
            raise ProblemError(
                400,
                "En-tête Idempotency-Key invalide (1 à 255 caractères ASCII visibles).",
                errors=[
                    FieldError(field="Idempotency-Key", reason="format invalide", source="header")
                ],
            )
        owner = f"{actor.kind.value}:{actor.subject}:{actor.structure_id}"
        request_hash = await _request_hash(request)
        existing = await svc.idempotency_record(owner, key)
        if existing is not None:
            return await _replay(existing, request_hash, svc, actor, kind)
    for attempt in range(1, ATTEMPTS + 1):
        outcome = await run()
        if key is not None:
            encoded = msgspec.json.encode(outcome.body).decode()
            svc.stage_row(
                IDEMPOTENCY,
                {
                    "owner": owner,
                    "key": key,
                    "request_hash": request_hash,
                    "referral_id": outcome.referral_id,
                    "status_code": outcome.status_code,
                    "response_enc": svc.keyring.seal(encoded, _context(owner, key)),
                    "headers": outcome.headers,
                    "categories": sorted(outcome.shown),
                    "created_at": utcnow(),
                },
            )
        try:
            await svc.flush()
        except StaleWrite:
            svc.discard()
            if attempt == ATTEMPTS:
                raise ProblemError(
                    409,
                    "L'orientation change en ce moment ; réessayez dans un instant.",
                    headers={"Retry-After": "1"},
                ) from None
            continue
        except (IntegrityError, DuplicateIdempotencyKey):
            if key is None:
                raise
            # The same key raced us and won: forget our work, answer with the first response.
            await svc.session.rollback()
            existing = await svc.idempotency_record(owner, key)
            if existing is None:
                raise ProblemError(
                    409, "Une requête avec la même clé Idempotency-Key est en cours."
                ) from None
            return await _replay(existing, request_hash, svc, actor, kind)
        break
    return Response(outcome.body, status_code=outcome.status_code, headers=outcome.headers)


async def forget_expired(session: AsyncSession, now: datetime) -> int:
    """Delete the records older than ``RETENTION``; returns how many went."""
    result = await session.execute(
        sa.delete(m.IdempotencyRecord).where(m.IdempotencyRecord.created_at < now - RETENTION)
    )
    return int(getattr(result, "rowcount", 0) or 0)
