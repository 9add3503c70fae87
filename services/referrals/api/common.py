"""Helpers shared by the referrals controllers: who acts, preconditions, answers of the flows."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request

from services.kernel.clock import utcnow
from services.kernel.identity import Caller, Scope
from services.kernel.problems import ProblemError
from services.referrals.api.idempotency import Answer
from services.referrals.deps import etag, if_match
from services.referrals.domain.transitions import Actor, ActorKind
from services.referrals.schemas import HandoffRead, ReferralRead
from services.referrals.service.common import Base, Pending
from services.referrals.service.reading import read_referral
from services.referrals.service.views import handoff_read, handoff_shown

PREFIX = "/referrals/v1"


def actor_for(caller: Caller, *, write: bool) -> Actor:
    """Users act through their role in their structure, clients through a scope bound to theirs."""
    if caller.kind == "client":
        needed = Scope.REFERRALS_WRITE if write else Scope.REFERRALS_READ
        granted = caller.has_scope(needed) or caller.has_scope(Scope.REFERRALS_WRITE)
        if not granted or caller.structure_id is None:
            raise ProblemError(
                403,
                f"Ce client n'a pas la portée « {needed.value} » pour sa structure.",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{needed}"'},
            )
        return Actor(ActorKind.CLIENT, caller.structure_id, caller.subject)
    if not caller.is_member_of(caller.structure_id):
        raise ProblemError(
            403, "Vous devez agir pour une structure dont vous êtes membre ou administrateur."
        )
    return Actor(ActorKind.USER, caller.structure_id, caller.subject)


async def if_match_after_404(
    svc: Base, request: Request[Any, Any, Any], referral_id: uuid.UUID, actor: Actor
) -> int | None:
    """The referral's ``If-Match``; when it is malformed, a referral the actor cannot see is
    still a 404 first (its existence is not revealed)."""
    try:
        return if_match(request, required=False)
    except ProblemError:
        await svc.visible(referral_id, actor, utcnow())
        raise


async def referral_answer(
    svc: Base, pending: Pending, actor: Actor, status_code: int = 200
) -> Answer[ReferralRead]:
    """The referral as it stands once ``pending`` is saved, as ``actor`` sees it; what it
    shows of the person is written to the access log with the change."""
    now = pending.change.now
    read, shown = await read_referral(svc, pending.after, actor, now)
    read.follow_up_code = pending.follow_up_code
    referral_id = pending.after.referral.id
    if shown:
        pending.change.access.append(svc.access(referral_id, actor, "referral", shown, now))
    headers = {"ETag": etag(pending.after.referral.version)}
    if status_code == 201:
        headers["Location"] = f"{PREFIX}/referrals/{referral_id}"
    return Answer(status_code, read, headers, pending, shown)


def handoff_answer(
    svc: Base, pending: Pending, handoff_id: uuid.UUID, actor: Actor, status_code: int = 200
) -> Answer[HandoffRead]:
    """A handoff as it stands once ``pending`` is saved, as ``actor`` sees it (a comment
    shown is written to the access log with the change)."""
    after, now = pending.after, pending.change.now
    handoff = after.handoff(handoff_id)
    assert handoff is not None
    read = handoff_read(svc, after, handoff, actor, now, after.view(actor.structure_id, now))
    shown = handoff_shown(read)
    if shown:
        pending.change.access.append(svc.access(after.referral.id, actor, "handoff", shown, now))
    headers = {"ETag": etag(handoff.version)}
    if status_code == 201:
        headers["Location"] = f"{PREFIX}/referrals/{after.referral.id}/handoffs/{handoff_id}"
    return Answer(status_code, read, headers, pending, shown)
