"""Inbox (handoffs received by my structure) and outbox (sent by it), with filters and cursors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from litestar import Controller, get
from litestar.params import Parameter

from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.clock import utcnow
from services.kernel.pagination import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    next_link,
)
from services.kernel.problems import field_error
from services.kernel.security import Caller, Scope
from services.referrals import models as m
from services.referrals.api.common import PREFIX
from services.referrals.domain.transitions import AWAITING_ANSWER, HandoffState
from services.referrals.schemas import BoxItem
from services.referrals.service import Loaded, ReferralService
from services.referrals.validation import check_thematiques
from services.referrals.views import actor_for, handoff_read

States = list[HandoffState]


async def _box(
    svc: ReferralService,
    caller: Caller,
    box: Literal["inbox", "outbox"],
    *,
    state: States | None,
    thematique: str | None,
    since: datetime | None,
    until: datetime | None,
    partner: uuid.UUID | None,
    referent: str | None,
    overdue: bool | None,
    cursor: str | None,
    limit: int,
) -> Page[BoxItem]:
    actor = actor_for(caller, write=False)
    check_limit(limit)
    if thematique is not None and check_thematiques([thematique], "thematique"):
        raise field_error("thematique", f"thématique inconnue : {thematique}", status=400)
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise field_error(name, "fuseau horaire requis (RFC 3339)", status=400)
    now = utcnow()
    column = m.Handoff.to_structure_id if box == "inbox" else m.Handoff.from_structure_id
    # The structure at the other end of the handoff.
    other = m.Handoff.from_structure_id if box == "inbox" else m.Handoff.to_structure_id
    query = (
        sa.select(m.Handoff, m.Referral)
        .join(m.Referral, m.Referral.id == m.Handoff.referral_id)
        .where(column == actor.structure_id)
        .order_by(m.Handoff.id.desc())
        .limit(limit + 1)
    )
    if state:
        query = query.where(m.Handoff.state.in_([s.value for s in state]))
    if thematique is not None:
        query = query.where(
            sa.exists().where(
                m.ReferralThematique.referral_id == m.Referral.id,
                m.ReferralThematique.thematique == thematique,
            )
        )
    if since is not None:
        query = query.where(m.Handoff.created_at >= since)
    if until is not None:
        query = query.where(m.Handoff.created_at < until)
    if partner is not None:
        query = query.where(other == partner)
    if referent is not None:
        query = query.where(m.Referral.referent == referent)
    awaiting = m.Handoff.state.in_([s.value for s in AWAITING_ANSWER])
    if overdue is True:
        query = query.where(awaiting, m.Handoff.respond_by <= now)
    elif overdue is False:
        query = query.where(sa.not_(sa.and_(awaiting, m.Handoff.respond_by <= now)))
    if cursor:
        raw = decode_cursor(cursor, [str])[0]
        try:
            before = uuid.UUID(raw)
        except ValueError:
            raise field_error("cursor", "curseur invalide ou périmé", status=400) from None
        query = query.where(m.Handoff.id < before)
    rows = (await svc.session.execute(query)).all()
    page = rows[:limit]
    items = []
    for handoff, referral in page:
        loaded = Loaded(referral, [handoff])
        items.append(
            BoxItem(
                referral_id=referral.id,
                referral_status=referral.status,
                origin_structure_id=referral.structure_id,
                referent=referral.referent if referral.structure_id == actor.structure_id else None,
                thematiques=list(referral.thematiques),
                urgency=referral.urgency,  # type: ignore[arg-type]
                channel=referral.channel,  # type: ignore[arg-type]
                handoff=handoff_read(svc, loaded, handoff, actor, now, None),
            )
        )
    nxt = encode_cursor([str(page[-1][0].id)]) if len(rows) > limit else None
    params = {
        "state": [s.value for s in state] if state else None,
        "thematique": thematique,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "partner": str(partner) if partner else None,
        "referent": referent,
        "overdue": str(overdue).lower() if overdue is not None else None,
        "limit": limit,
    }
    return Page(
        items=items,
        next=next_link(svc.settings.base_url, f"{PREFIX}/{box}", params, nxt),
        next_cursor=nxt,
    )


class BoxController(Controller):
    path = PREFIX
    opt = {CLIENT_SCOPES: ClientScopes(read=Scope.REFERRALS_READ, write=Scope.REFERRALS_WRITE)}  # noqa: RUF012
    tags = ("inbox & outbox",)
    security = ({"bearer": []},)

    @get("/inbox", operation_id="ListInbox")
    async def inbox(
        self,
        svc: ReferralService,
        authenticated: Caller,
        states: States | None = Parameter(
            query="state", default=None, description="état(s) de la transmission"
        ),
        thematique: str | None = None,
        since: datetime | None = Parameter(
            default=None, description="transmises à partir de cet instant (inclus)"
        ),
        until: datetime | None = Parameter(
            default=None, description="transmises avant cet instant (exclu)"
        ),
        partner: uuid.UUID | None = Parameter(
            default=None, description="la structure qui a envoyé la transmission"
        ),
        referent: str | None = None,
        overdue: bool | None = None,
        cursor: str | None = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=200),
    ) -> Page[BoxItem]:
        """Handoffs received by my structure, newest first (no personal data in lists)."""
        return await _box(
            svc, authenticated, "inbox", state=states, thematique=thematique, since=since,
            until=until, partner=partner, referent=referent, overdue=overdue, cursor=cursor,
            limit=limit,
        )  # fmt: skip

    @get("/outbox", operation_id="ListOutbox")
    async def outbox(
        self,
        svc: ReferralService,
        authenticated: Caller,
        states: States | None = Parameter(
            query="state", default=None, description="état(s) de la transmission"
        ),
        thematique: str | None = None,
        since: datetime | None = Parameter(
            default=None, description="transmises à partir de cet instant (inclus)"
        ),
        until: datetime | None = Parameter(
            default=None, description="transmises avant cet instant (exclu)"
        ),
        partner: uuid.UUID | None = Parameter(
            default=None, description="la structure à qui la transmission a été envoyée"
        ),
        referent: str | None = None,
        overdue: bool | None = None,
        cursor: str | None = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=200),
    ) -> Page[BoxItem]:
        """Handoffs sent by my structure (first sends, re-orientations, relays), newest first."""
        return await _box(
            svc, authenticated, "outbox", state=states, thematique=thematique, since=since,
            until=until, partner=partner, referent=referent, overdue=overdue, cursor=cursor,
            limit=limit,
        )  # fmt: skip
