"""Referrals: create, read, re-orient, close, change referent, withdraw consent, timeline."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter

from services.kernel.clock import utcnow
from services.kernel.pagination import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    next_link,
)
from services.kernel.problems import ProblemError, field_error
from services.kernel.security import Caller
from services.referrals import models as m
from services.referrals.api.common import (
    PREFIX,
    handoff_outcome,
    referral_outcome,
    visible_referral,
    visible_then_if_match,
)
from services.referrals.deps import OPTIMISTIC_WRITES, IdempotencyKey, IfMatch
from services.referrals.directory import resolve_target
from services.referrals.domain.consent import Category
from services.referrals.idempotency import Outcome, idempotent
from services.referrals.schemas import (
    AccessLogRead,
    CloseIn,
    HandoffRead,
    ReferentIn,
    ReferralCreate,
    ReferralRead,
    ReorientIn,
    TimelineEventRead,
    WithdrawIn,
)
from services.referrals.service import ReferralService
from services.referrals.validation import check_create
from services.referrals.views import actor_for, event_read, log_access


class ReferralController(Controller):
    path = PREFIX
    tags = ("referrals",)
    security = ({"bearer": []},)

    @post("/referrals", operation_id="CreateReferral", status_code=201, opt=OPTIMISTIC_WRITES)
    async def create_referral(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        data: ReferralCreate,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReferralRead]:
        """Record a person's request, their consent, and send it to a partner."""
        actor = actor_for(authenticated, write=True)
        body = check_create(data, utcnow(), svc.settings.age_bands)

        async def run() -> Outcome[ReferralRead]:
            target = await resolve_target(
                request.app.state.locator,
                request.headers.get("authorization"),
                body.target.structure_id,
                body.target.service_id,
            )
            loaded = await svc.create(actor, body, target)
            return await referral_outcome(
                svc, loaded.referral.id, actor, 201, loaded=loaded, attachments=[]
            )

        return await idempotent(request, svc, actor, ReferralRead, run)

    @get("/referrals/{referral_id:uuid}", operation_id="GetReferral")
    async def get_referral(
        self, svc: ReferralService, authenticated: Caller, referral_id: uuid.UUID
    ) -> Response[ReferralRead]:
        """A referral as the caller's structure may see it (personal data under consent)."""
        actor = actor_for(authenticated, write=False)
        loaded = await visible_referral(svc, referral_id, actor)
        outcome = await referral_outcome(svc, referral_id, actor, loaded=loaded)
        return Response(outcome.body, headers=outcome.headers)

    @post(
        "/referrals/{referral_id:uuid}/handoffs",
        operation_id="ReorientReferral",
        status_code=201,
        opt=OPTIMISTIC_WRITES,
    )
    async def reorient(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        data: ReorientIn,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[HandoffRead]:
        """After a decline, cancellation or expiry: send the person to another partner."""
        actor = actor_for(authenticated, write=True)
        await visible_referral(svc, referral_id, actor)

        async def run() -> Outcome[HandoffRead]:
            target = await resolve_target(
                request.app.state.locator,
                request.headers.get("authorization"),
                data.target.structure_id,
                data.target.service_id,
            )
            handoff_id, loaded = await svc.reorient(
                actor, referral_id, target, add_recipient=data.add_recipient, comment=data.comment
            )
            return await handoff_outcome(svc, referral_id, handoff_id, actor, 201, loaded=loaded)

        return await idempotent(request, svc, actor, HandoffRead, run)

    @post(
        "/referrals/{referral_id:uuid}/close",
        operation_id="CloseReferral",
        status_code=200,
        opt=OPTIMISTIC_WRITES,
    )
    async def close(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        data: CloseIn,
        idempotency_key: IdempotencyKey = None,
        if_match_header: IfMatch = None,
    ) -> Response[ReferralRead]:
        """Record the outcome once a partner has taken the person over."""
        actor = actor_for(authenticated, write=True)
        expected = await visible_then_if_match(svc, request, referral_id, actor)

        async def run() -> Outcome[ReferralRead]:
            loaded = await svc.close(actor, referral_id, data, expected_version=expected)
            return await referral_outcome(svc, referral_id, actor, loaded=loaded)

        return await idempotent(request, svc, actor, ReferralRead, run)

    @post(
        "/referrals/{referral_id:uuid}/referent",
        operation_id="ChangeReferent",
        status_code=200,
        opt=OPTIMISTIC_WRITES,
    )
    async def change_referent(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        data: ReferentIn,
        idempotency_key: IdempotencyKey = None,
        if_match_header: IfMatch = None,
    ) -> Response[ReferralRead]:
        """Hand the follow-up to another member of the sending structure."""
        actor = actor_for(authenticated, write=True)
        expected = await visible_then_if_match(svc, request, referral_id, actor)

        async def run() -> Outcome[ReferralRead]:
            loaded = await svc.change_referent(
                actor, referral_id, data.referent, expected_version=expected
            )
            return await referral_outcome(svc, referral_id, actor, loaded=loaded)

        return await idempotent(request, svc, actor, ReferralRead, run)

    @post(
        "/referrals/{referral_id:uuid}/consent/withdraw",
        operation_id="WithdrawConsent",
        status_code=200,
    )
    async def withdraw_consent(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        data: WithdrawIn | None = None,
        idempotency_key: IdempotencyKey = None,
        if_match_header: IfMatch = None,
    ) -> Response[ReferralRead]:
        """The person withdraws consent: personal data erased, open handoffs cancelled."""
        actor = actor_for(authenticated, write=True)
        expected = await visible_then_if_match(svc, request, referral_id, actor)

        async def run() -> Outcome[ReferralRead]:
            # Reloaded: the erasure's bulk updates are not reflected in the loaded rows.
            await svc.withdraw(actor, referral_id, expected_version=expected)
            return await referral_outcome(svc, referral_id, actor)

        return await idempotent(request, svc, actor, ReferralRead, run)

    @get("/referrals/{referral_id:uuid}/timeline", operation_id="GetReferralTimeline")
    async def timeline(
        self,
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        cursor: str | None = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=200),
    ) -> Page[TimelineEventRead]:
        """Every change of the referral, oldest first (events the caller's structure may see)."""
        actor = actor_for(authenticated, write=False)
        loaded = await visible_referral(svc, referral_id, actor)
        check_limit(limit)
        after = decode_cursor(cursor, [int])[0] if cursor else 0
        rows = await svc.session.scalars(
            sa.select(m.TimelineEvent)
            .where(m.TimelineEvent.referral_id == referral_id, m.TimelineEvent.position > after)
            .order_by(m.TimelineEvent.position)
        )
        seen = loaded.view(actor.structure_id, utcnow())
        visible = [e for e in rows.all() if seen.sees_event(e.structures)]
        page = visible[:limit]
        items = [event_read(svc, e, seen) for e in page]
        if any(i.comment for i in items):
            log_access(svc, referral_id, actor, "timeline", {Category.SITUATION})
        nxt = encode_cursor([page[-1].position]) if len(visible) > limit else None
        return Page(
            items=items,
            next=next_link(
                svc.settings.base_url,
                f"{PREFIX}/referrals/{referral_id}/timeline",
                {"limit": limit},
                nxt,
            ),
            next_cursor=nxt,
        )

    @get("/referrals/{referral_id:uuid}/access-log", operation_id="GetReferralAccessLog")
    async def access_log(
        self,
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        cursor: str | None = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=200),
    ) -> Page[AccessLogRead]:
        """Who read this referral's personal data (admins of the sending structure)."""
        actor = actor_for(authenticated, write=False)
        loaded = await visible_referral(svc, referral_id, actor)
        if not authenticated.is_admin_of(loaded.referral.structure_id):
            raise ProblemError(
                403,
                "Seul un administrateur de la structure à l'origine de l'orientation peut "
                "consulter le journal des accès.",
            )
        return await _access_page(
            svc,
            m.AccessLogEntry.referral_id == referral_id,
            cursor,
            limit,
            f"{PREFIX}/referrals/{referral_id}/access-log",
        )

    @get("/access-log", operation_id="ListAccessLog")
    async def structure_access_log(
        self,
        svc: ReferralService,
        authenticated: Caller,
        cursor: str | None = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=200),
    ) -> Page[AccessLogRead]:
        """Reads of personal data in every referral my structure sent (its admins only)."""
        actor_for(authenticated, write=False)
        if not authenticated.is_admin_of(authenticated.structure_id):
            raise ProblemError(
                403, "Seul un administrateur de la structure peut consulter le journal des accès."
            )
        mine = sa.select(m.Referral.id).where(m.Referral.structure_id == authenticated.structure_id)
        return await _access_page(
            svc, m.AccessLogEntry.referral_id.in_(mine), cursor, limit, f"{PREFIX}/access-log"
        )


async def _access_page(
    svc: ReferralService, where: Any, cursor: str | None, limit: int, path: str
) -> Page[AccessLogRead]:
    check_limit(limit)
    query = sa.select(m.AccessLogEntry).where(where).order_by(m.AccessLogEntry.id).limit(limit + 1)
    if cursor:
        try:
            after = uuid.UUID(str(decode_cursor(cursor, [str])[0]))
        except ValueError:
            raise field_error("cursor", "curseur invalide ou périmé", status=400) from None
        query = query.where(m.AccessLogEntry.id > after)
    rows = list((await svc.session.scalars(query)).all())
    page = rows[:limit]
    nxt = encode_cursor([str(page[-1].id)]) if len(rows) > limit else None
    return Page(
        items=[
            AccessLogRead(
                id=r.id,
                referral_id=r.referral_id,
                actor_kind=r.actor_kind,
                actor_subject=r.actor_subject,
                structure_id=r.structure_id,
                resource=r.resource,
                categories=list(r.categories),
                at=r.at,
            )
            for r in page
        ],
        next=next_link(svc.settings.base_url, path, {"limit": limit}, nxt),
        next_cursor=nxt,
    )
