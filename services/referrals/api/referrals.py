"""Referrals: create, read, re-orient, close, change referent, withdraw consent, timeline."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter

from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.clock import utcnow
from services.kernel.identity import Caller, Scope
from services.kernel.openapi import IF_MATCH, OPTIONAL
from services.kernel.pagination import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    next_link,
)
from services.kernel.problems import ProblemError, query_error
from services.referrals.api.common import (
    PREFIX,
    actor_for,
    handoff_answer,
    if_match_after_404,
    referral_answer,
)
from services.referrals.api.idempotency import Answer, idempotent
from services.referrals.deps import IdempotencyKey, IfMatch, etag
from services.referrals.directory import resolve_target
from services.referrals.domain.records import AccessRecord
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
from services.referrals.service.reading import ReadingService
from services.referrals.validation import check_create


class ReferralController(Controller):
    path = PREFIX
    opt = {CLIENT_SCOPES: ClientScopes(read=Scope.REFERRALS_READ, write=Scope.REFERRALS_WRITE)}  # noqa: RUF012
    tags = ("referrals",)
    security = ({"bearer": []},)

    @post("/referrals", operation_id="CreateReferral", status_code=201)
    async def create_referral(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        data: ReferralCreate,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReferralRead]:
        """Record a person's request, their consent (which must name the target among its
        recipients), and send it to a partner."""
        actor = actor_for(authenticated, write=True)
        body = check_create(data, utcnow(), svc.settings.age_bands)

        async def run() -> Answer[ReferralRead]:
            target = await resolve_target(
                request.app.state.locator,
                request.headers.get("authorization"),
                body.target.structure_id,
                body.target.service_id,
            )
            pending = await svc.create(actor, body, target)
            return await referral_answer(svc, pending, actor, 201)

        return await idempotent(request, svc, actor, ReferralRead, run)

    @get("/referrals/{referral_id:uuid}", operation_id="GetReferral")
    async def get_referral(
        self, reading: ReadingService, authenticated: Caller, referral_id: uuid.UUID
    ) -> Response[ReferralRead]:
        """A referral as the caller's structure may see it (personal data under consent)."""
        read = await reading.get_referral(referral_id, actor_for(authenticated, write=False))
        return Response(read, headers={"ETag": etag(read.version)})

    @post(
        "/referrals/{referral_id:uuid}/handoffs", operation_id="ReorientReferral", status_code=201
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
        """After a decline, cancellation or expiry: send the person to another partner, which
        the consent must cover (named, or further partners allowed) unless ``add_recipient``
        records the person's agreement."""
        actor = actor_for(authenticated, write=True)
        await svc.visible(referral_id, actor, utcnow())  # 404 before the directory is asked

        async def run() -> Answer[HandoffRead]:
            target = await resolve_target(
                request.app.state.locator,
                request.headers.get("authorization"),
                data.target.structure_id,
                data.target.service_id,
            )
            handoff_id, pending = await svc.reorient(
                actor, referral_id, target, add_recipient=data.add_recipient, comment=data.comment
            )
            return handoff_answer(svc, pending, handoff_id, actor, 201)

        return await idempotent(request, svc, actor, HandoffRead, run)

    @post(
        "/referrals/{referral_id:uuid}/close",
        operation_id="CloseReferral",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
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
        """Record a side's outcome once a partner has taken the person over. Each side (the
        referent's structure, the partner) closes and evaluates its own part: the first closes
        the handoff (``outcome``, the referral stays ``taken_over`` until
        ``closing_ends_at``); the referral is ``closed`` when the other side has closed its part
        too (``second_outcome``), or when REFERRALS_CLOSING_DAYS have passed without it."""
        actor = actor_for(authenticated, write=True)
        expected = await if_match_after_404(svc, request, referral_id, actor)

        async def run() -> Answer[ReferralRead]:
            pending = await svc.close(actor, referral_id, data, if_match=expected)
            return await referral_answer(svc, pending, actor)

        return await idempotent(request, svc, actor, ReferralRead, run)

    @post(
        "/referrals/{referral_id:uuid}/referent",
        operation_id="ChangeReferent",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
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
        expected = await if_match_after_404(svc, request, referral_id, actor)

        async def run() -> Answer[ReferralRead]:
            pending = await svc.change_referent(
                actor, referral_id, data.referent, if_match=expected
            )
            return await referral_answer(svc, pending, actor)

        return await idempotent(request, svc, actor, ReferralRead, run)

    @post(
        "/referrals/{referral_id:uuid}/consent/withdraw",
        operation_id="WithdrawConsent",
        status_code=200,
        opt={IF_MATCH: OPTIONAL},
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
        expected = await if_match_after_404(svc, request, referral_id, actor)

        async def run() -> Answer[ReferralRead]:
            pending = await svc.withdraw(actor, referral_id, if_match=expected)
            return await referral_answer(svc, pending, actor)

        return await idempotent(request, svc, actor, ReferralRead, run)

    @get("/referrals/{referral_id:uuid}/timeline", operation_id="GetReferralTimeline")
    async def timeline(
        self,
        reading: ReadingService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        cursor: str | None = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=200),
    ) -> Page[TimelineEventRead]:
        """Every change of the referral, oldest first (events the caller's structure may see)."""
        actor = actor_for(authenticated, write=False)
        check_limit(limit)
        after = decode_cursor(cursor, [int])[0] if cursor else 0
        items, more = await reading.timeline(referral_id, actor, after=after, limit=limit)
        nxt = encode_cursor([items[-1].position]) if more else None
        return Page(
            items=items,
            next=next_link(
                reading.settings.base_url,
                f"{PREFIX}/referrals/{referral_id}/timeline",
                {"limit": limit},
                nxt,
            ),
            next_cursor=nxt,
        )

    @get("/referrals/{referral_id:uuid}/access-log", operation_id="GetReferralAccessLog")
    async def access_log(
        self,
        reading: ReadingService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        cursor: str | None = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=200),
    ) -> Page[AccessLogRead]:
        """Who read this referral's personal data (admins of the sending structure)."""
        actor = actor_for(authenticated, write=False)
        snapshot = await reading.visible(referral_id, actor, utcnow())
        if not authenticated.is_admin_of(snapshot.referral.structure_id):
            raise ProblemError(
                403,
                "Seul un administrateur de la structure à l'origine de l'orientation peut "
                "consulter le journal des accès.",
            )
        check_limit(limit)
        rows = await reading.access_log(
            referral_id=referral_id, after=_after(cursor), limit=limit + 1
        )
        return _access_page(reading, rows, limit, f"{PREFIX}/referrals/{referral_id}/access-log")

    @get("/access-log", operation_id="ListAccessLog")
    async def structure_access_log(
        self,
        reading: ReadingService,
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
        check_limit(limit)
        rows = await reading.access_log(
            origin_structure_id=authenticated.structure_id, after=_after(cursor), limit=limit + 1
        )
        return _access_page(reading, rows, limit, f"{PREFIX}/access-log")


def _after(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    try:
        return uuid.UUID(str(decode_cursor(cursor, [str])[0]))
    except ValueError:
        raise query_error("cursor", "curseur invalide ou périmé") from None


def _access_page(
    reading: ReadingService, rows: list[AccessRecord], limit: int, path: str
) -> Page[AccessLogRead]:
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
        next=next_link(reading.settings.base_url, path, {"limit": limit}, nxt),
        next_cursor=nxt,
    )
