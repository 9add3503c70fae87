"""Accueil: what needs me today (handoffs to answer, entries to review) and the search box."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, Response, get

from services.web.clients.directory import DirectoryApi, Service
from services.web.clients.referrals import AWAITING, ReferralsApi
from services.web.rendering import render
from services.web.sessions import Staff


def to_review(services: list[Service]) -> list[tuple[Service, list[str]]]:
    """My structure's services that need a look, with why (from what the API says of each)."""
    found = []
    for service in services:
        reasons = []
        if service.stale:
            reasons.append("informations à vérifier (pas confirmées depuis longtemps)")
        dead = [link for link in service.links if link.state == "dead"]
        if dead:
            reasons.append("lien qui ne fonctionne plus")
        if service.status == "draft":
            reasons.append("brouillon non publié")
        if reasons:
            found.append((service, reasons))
    return found


class Home(Controller):
    include_in_schema = False

    @get("/")
    async def home(
        self, request: Request[Any, Any, Any], visitor: Staff | None, directory: DirectoryApi
    ) -> Response[Any]:
        if visitor is None or visitor.structure_id is None:
            return render(request, "accueil/bienvenue.html", title="Bienvenue sur Relais")
        referrals = ReferralsApi(request.app.state.http["referrals"], visitor.access_token)
        to_answer, overdue, services = await asyncio.gather(
            referrals.count_inbox({"state": list(AWAITING)}),
            referrals.count_inbox({"overdue": "true"}),
            directory.services_of(visitor.structure_id, ("published", "draft", "suspended")),
        )
        return render(
            request,
            "accueil/accueil.html",
            title="Accueil",
            to_answer=to_answer,
            overdue=overdue,
            review=to_review(services),
        )


ROUTES = [Home]
