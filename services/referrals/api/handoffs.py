"""Handoff transitions (If-Match required): acknowledge, accept, decline, take over, cancel,
relay."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post

from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.identity import Caller, Scope
from services.kernel.openapi import IF_MATCH, REQUIRED
from services.referrals.api.common import PREFIX, actor_for, handoff_answer
from services.referrals.api.idempotency import Answer, idempotent
from services.referrals.deps import IdempotencyKey, IfMatch, etag, if_match
from services.referrals.directory import Target, resolve_target
from services.referrals.domain.transitions import Action
from services.referrals.schemas import CancelIn, DeclineIn, HandoffRead, RelayIn, TransitionIn
from services.referrals.service import ReferralService
from services.referrals.service.reading import ReadingService

HANDOFF = "/referrals/{referral_id:uuid}/handoffs/{handoff_id:uuid}"


async def _transition(
    request: Request[Any, Any, Any],
    svc: ReferralService,
    caller: Caller,
    referral_id: uuid.UUID,
    handoff_id: uuid.UUID,
    action: Action,
    *,
    reason: str | None = None,
    comment: str | None = None,
    relay: RelayIn | None = None,
) -> Response[HandoffRead]:
    actor = actor_for(caller, write=True)
    expected = if_match(request, required=True)

    async def run() -> Answer[HandoffRead]:
        target: Target | None = None
        if relay is not None:
            target = await resolve_target(
                request.app.state.locator,
                request.headers.get("authorization"),
                relay.target.structure_id,
                relay.target.service_id,
            )
        shown, pending = await svc.transition(
            actor,
            referral_id,
            handoff_id,
            action,
            if_match=expected,
            reason=reason,
            comment=comment,
            relay_target=target,
        )
        return handoff_answer(svc, pending, shown, actor, 201 if action is Action.RELAY else 200)

    return await idempotent(request, svc, actor, HandoffRead, run)


class HandoffController(Controller):
    path = PREFIX
    # Every transition names the handoff version it saw (428 without If-Match).
    opt = {  # noqa: RUF012
        CLIENT_SCOPES: ClientScopes(read=Scope.REFERRALS_READ, write=Scope.REFERRALS_WRITE),
        IF_MATCH: REQUIRED,
    }
    tags = ("handoffs",)
    security = ({"bearer": []},)

    @get(HANDOFF, operation_id="GetHandoff")
    async def get_handoff(
        self,
        reading: ReadingService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
    ) -> Response[HandoffRead]:
        """One handoff, with its version as ETag (send it back in If-Match)."""
        actor = actor_for(authenticated, write=False)
        read = await reading.get_handoff(referral_id, handoff_id, actor)
        return Response(read, headers={"ETag": etag(read.version)})

    @post(
        f"{HANDOFF}/acknowledge",
        operation_id="AcknowledgeHandoff",
        status_code=200,
    )
    async def acknowledge(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
        data: TransitionIn | None = None,
        idempotency_key: IdempotencyKey = None,
        if_match_header: IfMatch = None,
    ) -> Response[HandoffRead]:
        """The receiver has seen the referral (no decision yet)."""
        return await _transition(
            request, svc, authenticated, referral_id, handoff_id, Action.ACKNOWLEDGE,
            comment=data.comment if data else None,
        )  # fmt: skip

    @post(f"{HANDOFF}/accept", operation_id="AcceptHandoff", status_code=200)
    async def accept(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
        data: TransitionIn | None = None,
        idempotency_key: IdempotencyKey = None,
        if_match_header: IfMatch = None,
    ) -> Response[HandoffRead]:
        """The receiver agrees to see the person."""
        return await _transition(
            request, svc, authenticated, referral_id, handoff_id, Action.ACCEPT,
            comment=data.comment if data else None,
        )  # fmt: skip

    @post(f"{HANDOFF}/decline", operation_id="DeclineHandoff", status_code=200)
    async def decline(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
        data: DeclineIn,
        idempotency_key: IdempotencyKey = None,
        if_match_header: IfMatch = None,
    ) -> Response[HandoffRead]:
        """The receiver declines, with a reason code and a comment; the sender may re-orient."""
        return await _transition(
            request, svc, authenticated, referral_id, handoff_id, Action.DECLINE,
            reason=data.reason.value, comment=data.comment,
        )  # fmt: skip

    @post(
        f"{HANDOFF}/take-over",
        operation_id="TakeOverHandoff",
        status_code=200,
    )
    async def take_over(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
        data: TransitionIn | None = None,
        idempotency_key: IdempotencyKey = None,
        if_match_header: IfMatch = None,
    ) -> Response[HandoffRead]:
        """The receiver confirms it has taken the person over."""
        return await _transition(
            request, svc, authenticated, referral_id, handoff_id, Action.TAKE_OVER,
            comment=data.comment if data else None,
        )  # fmt: skip

    @post(f"{HANDOFF}/cancel", operation_id="CancelHandoff", status_code=200)
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
        data: CancelIn,
        idempotency_key: IdempotencyKey = None,
        if_match_header: IfMatch = None,
    ) -> Response[HandoffRead]:
        """The sender withdraws the handoff, with a reason."""
        return await _transition(
            request, svc, authenticated, referral_id, handoff_id, Action.CANCEL,
            reason=data.reason.value, comment=data.comment,
        )  # fmt: skip

    @post(f"{HANDOFF}/relay", operation_id="RelayHandoff", status_code=201)
    async def relay(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
        data: RelayIn,
        idempotency_key: IdempotencyKey = None,
        if_match_header: IfMatch = None,
    ) -> Response[HandoffRead]:
        """The receiver passes the person on: the consent must allow onward relay and cover the
        target (name it or allow further partners), unless the target is the origin structure.
        Returns the new handoff."""
        return await _transition(
            request, svc, authenticated, referral_id, handoff_id, Action.RELAY,
            comment=data.comment, relay=data,
        )  # fmt: skip
