"""Helpers shared by the referrals controllers (visibility, response building)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request

from services.kernel.clock import utcnow
from services.kernel.problems import ProblemError
from services.referrals import models as m
from services.referrals.deps import etag, if_match
from services.referrals.domain.consent import Category
from services.referrals.domain.transitions import Actor
from services.referrals.idempotency import HEADER as IDEMPOTENCY_HEADER
from services.referrals.idempotency import Outcome
from services.referrals.schemas import HandoffRead, ReferralRead
from services.referrals.service import Loaded, ReferralService
from services.referrals.views import handoff_read, log_access
from services.referrals.views import referral_read as _referral_read

PREFIX = "/referrals/v1"


def referral_not_found() -> ProblemError:
    return ProblemError(404, "Orientation introuvable.")


async def visible_referral(svc: ReferralService, referral_id: uuid.UUID, actor: Actor) -> Loaded:
    """The referral if the actor's structure is involved; 404 otherwise (existence not revealed)."""
    loaded = await svc.load(referral_id)
    if loaded is None or not loaded.view(actor.structure_id, utcnow()).party:
        raise referral_not_found()
    return loaded


async def visible_then_if_match(
    svc: ReferralService, request: Request[Any, Any, Any], referral_id: uuid.UUID, actor: Actor
) -> int | None:
    """``visible_referral`` then ``If-Match``, in that order (404 before 400). The visibility read
    is skipped when the service's lock checks it anyway: no Idempotency-Key (a replay answers
    before any lock) and a well-formed If-Match."""
    if request.headers.get(IDEMPOTENCY_HEADER) is not None:
        await visible_referral(svc, referral_id, actor)
        return if_match(request, required=False)
    try:
        return if_match(request, required=False)
    except ProblemError:
        await visible_referral(svc, referral_id, actor)
        raise


async def referral_outcome(
    svc: ReferralService,
    referral_id: uuid.UUID,
    actor: Actor,
    status_code: int = 200,
    *,
    loaded: Loaded | None = None,
    attachments: list[m.Attachment] | None = None,
) -> Outcome[ReferralRead]:
    """The response of a referral; ``loaded`` (kept in step with what the transaction wrote)
    saves a reload, ``attachments`` (when known, e.g. none yet) a query."""
    if loaded is None:
        loaded = await svc.load(referral_id)
    if loaded is None:  # pragma: no cover - just written
        raise referral_not_found()
    now = utcnow()
    # Attachments are shown only under the documents category: read them only then.
    if attachments is None:
        attachments = loaded.attachments
    if attachments is None:
        attachments = (
            await svc.attachments(referral_id)
            if Category.DOCUMENTS in loaded.view(actor.structure_id, now).categories
            else []
        )
    read, shown = _referral_read(svc, loaded, attachments, actor, now)
    if shown:
        log_access(svc, referral_id, actor, "referral", shown)
    headers = {"ETag": etag(loaded.referral.version)}
    if status_code == 201:
        headers["Location"] = f"{PREFIX}/referrals/{referral_id}"
    return Outcome(status_code, read, headers, referral_id, shown)


async def handoff_outcome(
    svc: ReferralService,
    referral_id: uuid.UUID,
    handoff_id: uuid.UUID,
    actor: Actor,
    status_code: int = 200,
    *,
    loaded: Loaded | None = None,
) -> Outcome[HandoffRead]:
    """The response of a handoff; ``loaded`` (kept in step with what the request wrote) saves
    a reload."""
    if loaded is None:
        loaded = await svc.load(referral_id)
    handoff = loaded.handoff(handoff_id) if loaded else None
    if loaded is None or handoff is None:  # pragma: no cover - just written
        raise referral_not_found()
    headers = {"ETag": etag(handoff.version)}
    if status_code == 201:
        headers["Location"] = f"{PREFIX}/referrals/{referral_id}/handoffs/{handoff_id}"
    return handoff_response(svc, loaded, handoff, actor, status_code, headers)


def handoff_response(
    svc: ReferralService,
    loaded: Loaded,
    handoff: m.Handoff,
    actor: Actor,
    status_code: int,
    headers: dict[str, str],
) -> Outcome[HandoffRead]:
    """A handoff as ``actor``'s structure sees it; a comment shown is a logged read."""
    now = utcnow()
    body = handoff_read(svc, loaded, handoff, actor, now, loaded.view(actor.structure_id, now))
    shown = frozenset({Category.SITUATION}) if body.comment else frozenset()
    if shown:
        log_access(svc, loaded.referral.id, actor, "handoff", shown)
    return Outcome(status_code, body, headers, loaded.referral.id, shown)


def visible_handoff(loaded: Loaded, handoff_id: uuid.UUID, actor: Actor) -> m.Handoff:
    handoff = loaded.handoff(handoff_id)
    if handoff is None or not loaded.view(actor.structure_id, utcnow()).sees_handoff(handoff_id):
        raise ProblemError(404, "Transmission introuvable.")
    return handoff
