"""Inbox (handoffs received by my structure) and outbox (sent by it), with filters and cursors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from litestar import Controller, get
from litestar.params import Parameter

from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.identity import Caller, Scope
from services.kernel.pagination import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    next_link,
)
from services.kernel.problems import query_error
from services.referrals.api.common import PREFIX, actor_for
from services.referrals.domain.transitions import HandoffState
from services.referrals.schemas import BoxCount, BoxItem
from services.referrals.service.reading import ReadingService
from services.referrals.validation import check_thematiques

States = list[HandoffState]


def _check_filters(thematique: str | None, since: datetime | None, until: datetime | None) -> None:
    if thematique is not None and check_thematiques([thematique], "thematique"):
        raise query_error("thematique", f"thématique inconnue : {thematique}")
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise query_error(name, "fuseau horaire requis (RFC 3339)")


async def _box(
    reading: ReadingService,
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
    _check_filters(thematique, since, until)
    before = None
    if cursor:
        raw = decode_cursor(cursor, [str])[0]
        try:
            before = uuid.UUID(raw)
        except ValueError:
            raise query_error("cursor", "curseur invalide ou périmé") from None
    items = await reading.box(
        box,
        actor,
        states=[s.value for s in state] if state else None,
        thematique=thematique,
        since=since,
        until=until,
        partner=partner,
        referent=referent,
        overdue=overdue,
        before=before,
        limit=limit + 1,
    )
    page = items[:limit]
    nxt = encode_cursor([str(page[-1].handoff.id)]) if len(items) > limit else None
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
        items=page,
        next=next_link(reading.settings.base_url, f"{PREFIX}/{box}", params, nxt),
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
        reading: ReadingService,
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
            reading, authenticated, "inbox", state=states, thematique=thematique, since=since,
            until=until, partner=partner, referent=referent, overdue=overdue, cursor=cursor,
            limit=limit,
        )  # fmt: skip

    @get("/inbox/count", operation_id="CountInbox")
    async def inbox_count(
        self,
        reading: ReadingService,
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
    ) -> BoxCount:
        """How many handoffs of the inbox match these filters (those of ListInbox), e.g. the
        ones to answer (`state=sent&state=acknowledged`) or past their deadline
        (`overdue=true`)."""
        actor = actor_for(authenticated, write=False)
        _check_filters(thematique, since, until)
        count = await reading.box_count(
            "inbox", actor, states=[s.value for s in states] if states else None,
            thematique=thematique, since=since, until=until, partner=partner,
            referent=referent, overdue=overdue,
        )  # fmt: skip
        return BoxCount(count=count)

    @get("/outbox", operation_id="ListOutbox")
    async def outbox(
        self,
        reading: ReadingService,
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
            reading, authenticated, "outbox", state=states, thematique=thematique, since=since,
            until=until, partner=partner, referent=referent, overdue=overdue, cursor=cursor,
            limit=limit,
        )  # fmt: skip
