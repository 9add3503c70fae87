"""``GET /referrals/v1/stats``: anonymous statistics, as JSON or CSV."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.clock import utcnow
from services.kernel.identity import Caller, Scope
from services.kernel.openapi import also_as
from services.kernel.problems import ProblemError
from services.kernel.settings import Settings
from services.referrals.api.common import PREFIX
from services.referrals.stats.schemas import GroupBy, StatsRead
from services.referrals.stats.service import Query, compute, to_csv


def stats_scope(caller: Caller, structure_id: uuid.UUID | None) -> uuid.UUID | None:
    """Whose referrals the caller may count: the network (moderators, `stats:read` clients,
    optionally narrowed to one structure) or their own structure (its members)."""
    network = caller.is_moderator or (
        caller.kind == "client" and caller.has_scope(Scope.STATS_READ)
    )
    if network:
        return structure_id
    if caller.kind == "user" and caller.is_member_of(caller.structure_id):
        if structure_id is not None and structure_id != caller.structure_id:
            raise ProblemError(
                403, "Vous ne pouvez consulter que les statistiques de votre structure."
            )
        return caller.structure_id
    raise ProblemError(
        403,
        "Statistiques réservées aux membres d'une structure (pour elle), aux modérateurs "
        "et aux clients ayant la portée « stats:read ».",
    )


def _aware(value: datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class StatsController(Controller):
    path = PREFIX
    opt = {CLIENT_SCOPES: ClientScopes(read=Scope.STATS_READ)}  # noqa: RUF012
    tags = ("Statistiques",)
    security = [{"bearer": []}]  # noqa: RUF012

    @get(
        "/stats",
        operation_id="GetStats",
        responses={200: ResponseSpec(StatsRead, generate_examples=False)},
        operation_class=also_as(
            "text/csv", "statistiques (JSON) ; CSV avec `format=csv` ou `Accept: text/csv`"
        ),
    )
    async def stats(
        self,
        request: Request[Any, Any, State],
        session: AsyncSession,
        authenticated: Caller,
        since: datetime | None = Parameter(
            default=None, description="début (défaut : il y a un an)"
        ),
        until: datetime | None = Parameter(
            default=None, description="fin exclue (défaut : maintenant)"
        ),
        group_by: GroupBy = Parameter(
            default="none",
            description="regrouper par structure d'accueil, service, territoire (département "
            "de la structure d'accueil), type de service ou thématique",
        ),
        structure_id: uuid.UUID | None = None,
        format: Literal["json", "csv"] | None = Parameter(
            default=None, description="`csv` pour un fichier CSV (ou Accept: text/csv)"
        ),
    ) -> Response[Any]:
        """Referrals created over a period: counts by status, thematique, channel, age band,
        sex, outcome, evaluation and number of handoffs; handoffs by state and decline reason;
        median and p90 delays from sending to acknowledgement, acceptance and takeover; expiry
        and solution rates; mean evaluation. Grouped if asked by where the referral is or ended
        (its last handoff) and where each handoff went: receiving structure, service,
        territory (its département), service type; or by thematique (a referral counts under
        each of its own). Counts below the threshold (`min_cell`) are hidden (`null`,
        « secret » in CSV), and so is every value that would let one recompute them, from this
        answer or from any other grouping of the same period and scope."""
        scope = stats_scope(authenticated, structure_id)
        settings: Settings = request.app.state.settings
        now = utcnow()
        query = Query(
            since=_aware(since, now - timedelta(days=365)),
            until=_aware(until, now),
            group_by=group_by,
            structure_id=scope,
            threshold=settings.stats_min_cell,
            age_bands=settings.age_bands,
        )
        report = await compute(session, request.app.state.locator, query)
        wants_csv = format == "csv" or (
            format is None and "text/csv" in request.headers.get("accept", "")
        )
        if wants_csv:
            return Response(
                to_csv(report).encode("utf-8-sig"),
                media_type="text/csv",  # Litestar adds the charset
                headers={"Content-Disposition": 'attachment; filename="statistiques-relais.csv"'},
            )
        return Response(report)
