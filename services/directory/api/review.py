"""Review lists for maintainers: the entries of a structure (with its sites) or of a network that
need attention — stale, never confirmed, a dead or failing link, a capacity not stated lately —
each with its reasons. A structure's list is for its insiders (members, API clients bound to it,
its parent's, moderators); a network's for moderators."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory import models as m
from services.directory import render
from services.directory import schemas as s
from services.directory.api import _common as c
from services.directory.api.structures import Cursor, Limit
from services.directory.domain import review as rules
from services.directory.store import reads
from services.directory.store.review import Scope, entries_to_review
from services.kernel.identity import Caller
from services.kernel.pagination import Page, check_limit
from services.kernel.problems import ProblemError
from services.kernel.reference import taxonomy

Reasons = Annotated[
    list[s.ReviewReason] | None,
    Parameter(description="raisons voulues (défaut : toutes) ; répétable"),
]
CapacityDays = Annotated[
    int,
    Parameter(
        ge=1,
        le=3650,
        description="capacité à reconfirmer quand elle n'a pas été indiquée depuis N jours",
    ),
]


class ReviewController(Controller):
    path = c.PREFIX
    tags = ["review"]  # noqa: RUF012

    @get(
        "/structures/{structure_id:uuid}/review",
        operation_id="ReviewStructure",
        summary="Fiches de la structure à revoir",
    )
    async def review_structure(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        structure_id: uuid.UUID,
        reason: Reasons = None,
        capacity_days: CapacityDays = rules.CAPACITY_REVIEW_DAYS,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[s.ReviewItem]:
        """La structure, ses sites et leurs services qui demandent une revue, avec leurs
        raisons. Pour les membres de la structure (ou de sa parente), ses clients et la
        modération."""
        structure = await reads.get(session, m.Structure, structure_id)
        if structure is None or not c.can_see(
            authenticated, structure.status, structure.id, structure.parent_id
        ):
            raise c.not_found("Structure")
        if not c.is_insider(authenticated, structure.id, structure.parent_id):
            raise ProblemError(
                403,
                "Seuls les membres de la structure et la modération voient ses fiches à revoir.",
            )
        return await _page(
            session, request, Scope(structure_id=structure.id), reason, capacity_days, limit, cursor
        )

    @get(
        "/networks/{network:str}/review",
        operation_id="ReviewNetwork",
        summary="Fiches d'un réseau à revoir (modération)",
    )
    async def review_network(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        authenticated: Caller,
        network: str,
        reason: Reasons = None,
        capacity_days: CapacityDays = rules.CAPACITY_REVIEW_DAYS,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[s.ReviewItem]:
        """Les structures du réseau et leurs services qui demandent une revue, avec leurs
        raisons. Réservé à la modération."""
        if not authenticated.is_moderator:
            raise ProblemError(
                403, "Les fiches à revoir d'un réseau sont réservées à la modération."
            )
        if network not in taxonomy("reseaux-porteurs").values:
            raise c.not_found("Réseau")
        return await _page(
            session, request, Scope(network=network), reason, capacity_days, limit, cursor
        )


async def _page(
    session: AsyncSession,
    request: Request[Any, Any, Any],
    scope: Scope,
    reason: list[s.ReviewReason] | None,
    capacity_days: int,
    limit: int,
    cursor: str | None,
) -> Page[s.ReviewItem]:
    thresholds = rules.Thresholds(
        now=c.now(),
        review_days=c.settings_of(request.app.state).directory_review_period_days,
        capacity_days=capacity_days,
    )
    wanted = list(dict.fromkeys(reason or rules.REASONS))
    after = c.decode(cursor, by_update=False)
    rows, last = await entries_to_review(
        session,
        scope,
        wanted,
        thresholds,
        limit=check_limit(limit),
        after=after[0] if after else None,
    )
    checks = await reads.link_checks(session, [r.id for r in rows])
    items = []
    for row in rows:
        links = [render.link_status(check, insider=True) for check in checks.get(row.id, ())]
        bad = [link for link in links if link.state in ("dead", "failing")]
        found = rules.reasons(
            reviewed_at=row.reviewed_at,
            verified_at=row.verified_at,
            link_states=[link.state for link in bad],
            thresholds=thresholds,
            service=row.entity_type == "service",
            capacity_confirmed_at=row.capacity_confirmed_at,
        )
        items.append(
            s.ReviewItem(
                entity_type=row.entity_type,
                id=row.id,
                structure_id=row.structure_id,
                name=row.name,
                status=row.status,
                reasons=[r for r in found if r in wanted],
                reviewed_at=row.reviewed_at,
                verified_at=row.verified_at,
                capacity_status=row.capacity_status,
                capacity_confirmed_at=row.capacity_confirmed_at,
                links=bad,
            )
        )
    next_cursor = c.encode((last,) if last else None)
    return Page(items=items, next=c.link(request, next_cursor), next_cursor=next_cursor)
