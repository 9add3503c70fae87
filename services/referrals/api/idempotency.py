"""``Idempotency-Key`` on every POST: a retry gets the first answer and creates nothing.

Lookup, then store: a key already stored is answered from its record; otherwise the flow runs
and its answer is stored (body sealed with the referral's data key: it may hold personal data, and
goes with that key on erasure) with the flow's change, in the same transaction. The key is scoped
to the caller; the same key with another request is a 422.

Requests racing with one key: writers of a referral queue on it (see ``store``), so every one
but the first finds the referral changed (412/409) or the key taken (its insert fails on the
primary key) — and only once the first has committed. Such a loser, when it carries a key, looks
the key up again and answers with the stored answer: the first answer, every time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
from litestar import Request, Response
from sqlalchemy.exc import IntegrityError

from services.kernel.clock import utcnow
from services.kernel.problems import FieldError, ProblemError
from services.referrals.domain.consent import Category
from services.referrals.domain.records import IdempotencyRecord
from services.referrals.domain.transitions import Actor
from services.referrals.service.common import Base, Pending

HEADER = "idempotency-key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Answers a request racing with the first one of its key may have got instead of the first answer.
_RACED = frozenset({409, 412})
T = TypeVar("T")


@dataclass
class Answer(Generic[T]):
    """A flow's answer and the change it saves with it."""

    status_code: int
    body: T
    headers: dict[str, str]
    pending: Pending
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
    record: IdempotencyRecord, request_hash: str, svc: Base, actor: Actor, kind: type[T]
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
    snapshot = None if record.referral_id is None else await svc.store.load(record.referral_id)
    # The key as stored (not one this request may have issued before losing a race).
    stored = snapshot is not None and snapshot.referral.data_key_enc is not None
    key = svc.key(snapshot.referral) if snapshot is not None and stored else None
    if record.response_enc is None or key is None:
        raise ProblemError(
            410,
            "La réponse d'origine contenait des données personnelles effacées depuis "
            "(retrait du consentement) ; elle ne peut plus être rejouée.",
        )
    if record.categories:
        assert snapshot is not None
        if not snapshot.view(actor.structure_id, utcnow()).covers(record.categories):
            raise ProblemError(
                410,
                "La réponse d'origine contenait des données personnelles que le consentement ne "
                "permet plus à votre structure de voir ; elle ne peut plus être rejouée.",
            )
    raw = key.open(record.response_enc, _context(record.owner, record.key))
    body = msgspec.json.decode(raw.encode(), type=kind)
    return Response(
        body,
        status_code=record.status_code,
        headers={**record.headers, "Idempotent-Replayed": "true"},
    )


def _key(request: Request[Any, Any, Any]) -> str | None:
    key = request.headers.get(HEADER)
    if key is not None and not _KEY.match(key):
        raise ProblemError(
            400,
            "En-tête Idempotency-Key invalide (1 à 255 caractères ASCII visibles).",
            errors=[FieldError(field="Idempotency-Key", reason="format invalide", source="header")],
        )
    return key


async def idempotent(
    request: Request[Any, Any, Any],
    svc: Base,
    actor: Actor,
    kind: type[T],
    run: Callable[[], Awaitable[Answer[T]]],
) -> Response[T]:
    """Answer from the record of the request's Idempotency-Key, or run the flow and save its
    change with the record of its answer (one transaction)."""
    key = _key(request)
    if key is None:
        answer = await run()
        await svc.save(answer.pending)
        return Response(answer.body, status_code=answer.status_code, headers=answer.headers)
    owner = f"{actor.kind.value}:{actor.subject}:{actor.structure_id}"
    request_hash = await _request_hash(request)
    existing = await svc.store.idempotency(owner, key)
    if existing is not None:
        return await _replay(existing, request_hash, svc, actor, kind)
    try:
        answer = await run()
        encoded = msgspec.json.encode(answer.body).decode()
        # Sealed with the referral's key; none once erased (the answer goes with the rest).
        data_key = svc.key(answer.pending.after.referral)
        answer.pending.change.idempotency = IdempotencyRecord(
            owner=owner,
            key=key,
            request_hash=request_hash,
            referral_id=answer.pending.after.referral.id,
            status_code=answer.status_code,
            response_enc=(
                None if data_key is None else data_key.seal(encoded, _context(owner, key))
            ),
            headers=answer.headers,
            categories=sorted(answer.shown),
            created_at=answer.pending.change.now,
        )
        await svc.save(answer.pending)
    except (ProblemError, IntegrityError) as exc:
        if isinstance(exc, ProblemError) and exc.status_code not in _RACED:
            raise
        # Raced by the first request of this key (committed by now): its answer, if stored.
        await svc.session.rollback()
        existing = await svc.store.idempotency(owner, key)
        if existing is None:
            raise
        return await _replay(existing, request_hash, svc, actor, kind)
    return Response(answer.body, status_code=answer.status_code, headers=answer.headers)
