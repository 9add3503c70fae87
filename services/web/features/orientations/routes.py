"""Orientations: those my structure sent (filters, each relay's state), those it received (the
inbox by urgency, and a badge in the header kept current by htmx), and one referral's page for
either side. The forms of that page post to ``actions``."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from litestar import Controller, Request, Response, get

from services.web.clients.auth import AuthApi
from services.web.clients.directory import DirectoryApi
from services.web.clients.referrals import AWAITING, Box, BoxItem, ReferralsApi
from services.web.deps import inbox_badge
from services.web.features.connexion.routes import see_other
from services.web.features.orientations.names import StructureNames
from services.web.features.orientations.view import reference, referent_label, referral_page
from services.web.formats import PARIS
from services.web.rendering import render
from services.web.sessions import Staff

PAGE_SIZE = 25
SECTION_SIZE = 50
# The state filter of the lists: a word of the URL -> the API's handoff states.
STATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "en-attente": ("en attente de réponse", AWAITING),
    "acceptees": ("acceptées", ("accepted",)),
    "prises-en-charge": ("prises en charge", ("taken_over",)),
    "cloturees": ("clôturées", ("closed",)),
    "refusees": ("refusées", ("declined",)),
    "expirees": ("expirées", ("expired",)),
    "annulees": ("annulées", ("cancelled",)),
    "relayees": ("relayées", ("relayed",)),
}
# The inbox, most pressing first: (id, title, what is said when empty, API filter).
SECTIONS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    (
        "en-retard",
        "En retard : délai de réponse dépassé",
        "Aucune orientation en retard.",
        {"overdue": "true"},
    ),
    (
        "nouvelles",
        "Nouvelles",
        "Aucune nouvelle orientation.",
        {"state": ["sent"], "overdue": "false"},
    ),
    (
        "a-repondre",
        "À accepter ou refuser",
        "Aucune orientation en attente de votre décision.",
        {"state": ["acknowledged"], "overdue": "false"},
    ),
    (
        "a-prendre-en-charge",
        "Acceptées, prise en charge à confirmer",
        "Aucune orientation acceptée en attente de prise en charge.",
        {"state": ["accepted"]},
    ),
)


def _mine(staff: Staff) -> uuid.UUID | None:
    return staff.structure_id


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _start_of(day: date) -> str:
    """Midnight in France on ``day``, as the API's RFC 3339 instant."""
    return datetime.combine(day, time.min, PARIS).isoformat()


@dataclass
class Filters:
    """The list's filters as the URL holds them (a plain GET form: works without JavaScript)."""

    etat: str = ""
    moi: bool = False
    du: str = ""
    au: str = ""
    partenaire: str = ""
    retard: bool = False

    def errors(self) -> dict[str, str]:
        found = {}
        for name in ("du", "au"):
            if getattr(self, name) and _day(getattr(self, name)) is None:
                found[name] = "date invalide (attendu : jour/mois/année)"
        if self.partenaire:
            try:
                uuid.UUID(self.partenaire)
            except ValueError:
                found["partenaire"] = "partenaire inconnu"
        return found

    def params(self, staff: Staff) -> dict[str, Any]:
        since, until = _day(self.du), _day(self.au)
        partner = None if self.errors().get("partenaire") else self.partenaire
        return {
            "state": list(STATES[self.etat][1]) if self.etat in STATES else None,
            "referent": str(staff.account_id) if self.moi else None,
            "since": _start_of(since) if since else None,
            "until": _start_of(until + timedelta(days=1)) if until else None,
            "partner": partner or None,
            "overdue": "true" if self.retard else None,
        }

    def query(self) -> dict[str, Any]:
        return {
            "etat": self.etat,
            "moi": "1" if self.moi else "",
            "du": self.du,
            "au": self.au,
            "partenaire": self.partenaire,
            "retard": "1" if self.retard else "",
        }


async def _referent_names(auth: AuthApi, staff: Staff) -> dict[str, str]:
    if staff.structure_id is None:
        return {}
    names = {str(c.account_id): c.name for c in await auth.colleagues(staff.structure_id)}
    names[str(staff.account_id)] = "vous"
    return names


async def _senders(
    request: Request[Any, Any, Any], directory: DirectoryApi, items: list[BoxItem]
) -> dict[uuid.UUID, str]:
    store: StructureNames = request.app.state.structure_names
    ids = {i.handoff.from_structure_id for i in items if i.handoff.from_structure_id}
    return await store.of(directory, ids)


class Orientations(Controller):
    path = "/orientations"
    include_in_schema = False

    async def _list(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        auth: AuthApi,
        box: Literal["inbox", "outbox"],
        filters: Filters,
        apres: str,
    ) -> Response[Any]:
        params = {**filters.params(staff), "limit": PAGE_SIZE, "cursor": apres or None}
        load = referrals.outbox if box == "outbox" else referrals.inbox
        page, referents = await asyncio.gather(
            load(params),
            _referent_names(auth, staff) if box == "outbox" else _nothing(),
        )
        store: StructureNames = request.app.state.structure_names
        partners: dict[uuid.UUID, str] = {}
        if box == "outbox":
            partners = {
                i.handoff.to_structure_id: i.handoff.to_structure_name
                for i in page.items
                if i.handoff.to_structure_id
            }
        else:
            partners = await _senders(request, directory, page.items)
        chosen = filters.partenaire and not filters.errors().get("partenaire")
        if chosen and uuid.UUID(filters.partenaire) not in partners:
            partners.update(await store.of(directory, [uuid.UUID(filters.partenaire)]))
        return render(
            request,
            "orientations/liste.html",
            title="Orientations envoyées" if box == "outbox" else "Toutes les orientations reçues",
            box=box,
            page=page,
            filters=filters,
            errors=filters.errors(),
            states=STATES,
            partners=sorted(partners.items(), key=lambda p: p[1].lower()),
            senders=partners,
            referents=referents,
            referent_label=referent_label,
            reference=reference,
            base="/orientations" if box == "outbox" else "/orientations/recues/toutes",
        )

    @get()
    async def sent(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        auth: AuthApi,
        etat: str = "",
        moi: str = "",
        du: str = "",
        au: str = "",
        partenaire: str = "",
        retard: str = "",
        apres: str = "",
    ) -> Response[Any]:
        """« Orientations envoyées »: each handoff my structure sent, with its state."""
        if _mine(staff) is None:
            return see_other("/")
        filters = Filters(etat, bool(moi), du, au, partenaire, bool(retard))
        return await self._list(
            request, staff, referrals, directory, auth, "outbox", filters, apres
        )

    @get("/recues/toutes")
    async def all_received(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        auth: AuthApi,
        etat: str = "",
        du: str = "",
        au: str = "",
        partenaire: str = "",
        retard: str = "",
        apres: str = "",
    ) -> Response[Any]:
        """Every handoff received, whatever its state (the inbox shows the open ones)."""
        if _mine(staff) is None:
            return see_other("/")
        filters = Filters(etat, False, du, au, partenaire, bool(retard))
        return await self._list(request, staff, referrals, directory, auth, "inbox", filters, apres)

    @get("/recues")
    async def received(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
    ) -> Response[Any]:
        """« Orientations reçues »: what waits for my structure, the most pressing first."""
        if _mine(staff) is None:
            return see_other("/")
        boxes: list[Box] = await asyncio.gather(
            *(referrals.inbox({**f, "limit": SECTION_SIZE}) for _, _, _, f in SECTIONS)
        )
        senders = await _senders(request, directory, [i for b in boxes for i in b.items])
        return render(
            request,
            "orientations/recues.html",
            title="Orientations reçues",
            sections=[
                (key, title, empty, box)
                for (key, title, empty, _), box in zip(SECTIONS, boxes, strict=True)
            ],
            senders=senders,
            reference=reference,
        )

    @get("/recues/badge")
    async def badge(self, request: Request[Any, Any, Any], visitor: Staff | None) -> Response[Any]:
        """The header's count, for htmx's polling (the same markup as in the layout)."""
        return render(
            request, "orientations/badge.html", inbox_badge=await inbox_badge(request, visitor)
        )

    @get("/{referral_id:uuid}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        auth: AuthApi,
        referral_id: uuid.UUID,
        message: str = "",
    ) -> Response[Any]:
        return await referral_page(
            request, staff, referrals, directory, auth, referral_id, message=message
        )


async def _nothing() -> dict[str, str]:
    return {}


ROUTES = [Orientations]
