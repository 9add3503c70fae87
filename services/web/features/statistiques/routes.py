"""Statistiques: what the referrals API counts (anonymous, statistical secrecy applied), by
period and by group, as charts and tables a coordinator can read, and as CSV.

Moderators see the network, members their own structure (the API decides). The page only
arranges the API's answer: values hidden by the API stay hidden, said « masqué ».
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any

from litestar import Controller, Request, Response, get

from services.kernel.clock import utcnow
from services.web.clients.base import ApiError, Problem
from services.web.clients.directory import DirectoryApi
from services.web.clients.referrals import ReferralsApi
from services.web.features.statistiques.view import GROUPINGS, Period, Relabel, report
from services.web.formats import PARIS
from services.web.labels import CHANNELS, Labels
from services.web.rendering import SECURITY_HEADERS, query, render
from services.web.sessions import Staff

CSV_NAME = "statistiques-relais.csv"


def relabel_with(labels: Labels) -> Relabel:
    """Thematiques by the directory's names, channels in the web app's words."""

    def relabel(table: str, code: str, label: str) -> str:
        if table == "thematique":
            return labels.thematique(code) if labels.loaded else label
        if table == "canal":
            return CHANNELS.get(code, label)
        return label

    return relabel


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def presets(today: date) -> list[tuple[str, Period]]:
    year = today.year
    return [
        ("30 derniers jours", Period(today - timedelta(days=29), today)),
        ("12 derniers mois", Period(today - timedelta(days=364), today)),
        (f"Année {year}", Period(date(year, 1, 1), today)),
        (f"Année {year - 1}", Period(date(year - 1, 1, 1), date(year - 1, 12, 31))),
    ]


def read_period(du: str, au: str, today: date) -> tuple[Period, dict[str, str]]:
    """The period asked (the last twelve months by default) and what is wrong with it."""
    errors: dict[str, str] = {}
    start, end = _day(du) if du else None, _day(au) if au else None
    if du and start is None:
        errors["du"] = "date invalide (jour/mois/année)"
    if au and end is None:
        errors["au"] = "date invalide (jour/mois/année)"
    end = end or today
    start = start or end - timedelta(days=364)
    if not errors and start > end:
        errors["au"] = "la fin de la période précède son début"
    return Period(start, end), errors


class Statistiques(Controller):
    path = "/statistiques"
    include_in_schema = False

    @get()
    async def page(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        du: str = "",
        au: str = "",
        par: str = "",
    ) -> Response[Any]:
        today = utcnow().astimezone(PARIS).date()
        period, errors = read_period(du[:20], au[:20], today)
        grouping = par if par in GROUPINGS else ""
        stats = problem = None
        if not errors:
            try:
                stats = await referrals.stats(_params(period, grouping))
            except ApiError as exc:
                if exc.status not in (400, 422):
                    raise
                problem = exc.problem.detail or "Ces statistiques ne peuvent pas être calculées."
        asked = {"du": period.start.isoformat(), "au": period.end.isoformat(), "par": grouping}
        state = request.app.state
        if stats is not None:
            with contextlib.suppress(ApiError):  # directory down: the API's own labels
                await state.labels.load(DirectoryApi(state.http["directory"]))
        return render(
            request,
            "statistiques/statistiques.html",
            status=422 if errors else 200,
            title="Statistiques",
            period=period,
            asked=asked,
            typed={"du": du or asked["du"], "au": au or asked["au"]},
            errors=errors,
            groupings=GROUPINGS,
            grouping=grouping,
            presets=[
                (label, query("/statistiques", {**asked, "du": p.start, "au": p.end}))
                for label, p in presets(today)
            ],
            csv_url=query("/statistiques/export.csv", asked),
            problem=problem,
            report=report(stats, relabel_with(state.labels)) if stats else None,
        )

    @get("/export.csv")
    async def csv(
        self, staff: Staff, referrals: ReferralsApi, du: str = "", au: str = "", par: str = ""
    ) -> Response[bytes]:
        """The API's CSV (French headers and labels, « secret » for hidden values)."""
        period, errors = read_period(du[:20], au[:20], utcnow().astimezone(PARIS).date())
        if errors:
            raise ApiError(
                Problem(status=400, detail="Période invalide : " + "; ".join(errors.values()))
            )
        content = await referrals.stats_csv(_params(period, par if par in GROUPINGS else ""))
        return Response(
            content,
            media_type="text/csv; charset=utf-8",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="{CSV_NAME}"',
            },
        )


def _params(period: Period, grouping: str) -> dict[str, str]:
    return {
        "since": period.since.isoformat(),
        "until": period.until.isoformat(),
        "group_by": GROUPINGS[grouping][0],
    }


ROUTES = [Statistiques]
