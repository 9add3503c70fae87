"""The events feed for integrators: ``GET /referrals/v1/events?after=CURSOR``."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import Parameter

from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.identity import Caller, Scope
from services.kernel.pagination import DEFAULT_LIMIT, check_limit, next_link
from services.kernel.problems import query_error
from services.referrals.api.common import PREFIX, actor_for
from services.referrals.feed import EVENT_TYPES, FeedPage, parse_cursor, read_feed
from services.referrals.service import ReferralService


class EventsController(Controller):
    path = PREFIX
    opt = {CLIENT_SCOPES: ClientScopes(read=Scope.REFERRALS_READ, write=Scope.REFERRALS_WRITE)}  # noqa: RUF012
    tags = ("Événements",)
    security = [{"bearer": []}]  # noqa: RUF012

    @get("/events", operation_id="ListEvents")
    async def list_events(
        self,
        svc: ReferralService,
        authenticated: Caller,
        after: str | None = Parameter(
            default=None, description="curseur renvoyé par la page précédente (`next_cursor`)"
        ),
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=200),
        types: list[str] | None = Parameter(
            default=None, description="types d'événements voulus (tous par défaut)"
        ),
    ) -> FeedPage:
        """Events of the referrals the caller's structure takes part in, in commit order.

        Poll with the last `next_cursor`: no event is ever skipped, even one committed after a
        later one. Payloads carry ids and states only; read the referral for details (consent
        rules apply there).
        """
        actor = actor_for(authenticated, write=False)
        assert actor.structure_id is not None
        check_limit(limit)
        unknown = sorted(set(types or []) - set(EVENT_TYPES))
        if unknown:
            raise query_error("types", f"type(s) inconnu(s) : {', '.join(unknown)}")
        items, resume = await read_feed(
            svc.session, actor.structure_id, after=parse_cursor(after), limit=limit, types=types
        )
        link = next_link(
            svc.settings.base_url, f"{PREFIX}/events", {"limit": limit, "types": types}, resume
        )
        nxt = link.replace("cursor=", "after=", 1) if link else None
        return FeedPage(items=items, next_cursor=resume, next=nxt)
