"""Accueil: what needs me today (handoffs to answer and overdue, my structure's entries to
review) and the search box."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, Response, get

from services.web.clients.directory import DirectoryApi
from services.web.clients.referrals import AWAITING, ReferralsApi
from services.web.features.ma_structure.routes import CAPACITIES, MESSAGES
from services.web.rendering import render
from services.web.sessions import Staff


class Home(Controller):
    include_in_schema = False

    @get("/")
    async def home(
        self,
        request: Request[Any, Any, Any],
        visitor: Staff | None,
        directory: DirectoryApi,
        message: str = "",
    ) -> Response[Any]:
        if visitor is None or visitor.structure_id is None:
            return render(request, "accueil/bienvenue.html", title="Bienvenue sur Relais")
        referrals = ReferralsApi(request.app.state.http["referrals"], visitor.access_token)
        to_answer, overdue, review = await asyncio.gather(
            referrals.count_inbox({"state": list(AWAITING)}),
            referrals.count_inbox({"overdue": "true"}),
            directory.to_review(visitor.structure_id),
        )
        return render(
            request,
            "accueil/accueil.html",
            title="Accueil",
            to_answer=to_answer,
            overdue=overdue,
            review=review.items,
            more_to_review=review.next_cursor is not None,
            capacities=CAPACITIES,
            message=MESSAGES.get(message),
        )


ROUTES = [Home]
