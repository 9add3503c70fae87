"""Annuaire: search services by need, place, radius and filters; the URL holds the query.

Without JavaScript the form is a plain GET and every link a page. With htmx the same route
answers only the results area (filters with their counts, results, pages) and the address bar
follows, so the back button and shared links work the same.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import Parameter
from markupsafe import Markup

from services.web.clients.base import ApiError
from services.web.clients.directory import Commune, DirectoryApi, SearchPage, ServiceHit
from services.web.rendering import query, render

PAGE_SIZE = 20
RADII = (5, 10, 20, 50)
CODE = re.compile(r"^\d[\dAB]\d{3}$")
LABELLED = re.compile(r"^(?P<name>.+?)\s*\((?P<code>\d[\dAB]\d{3})\)")
Many = list[str] | None


@dataclass
class Query:
    """What the person asked, as the URL says it."""

    q: str = ""
    commune: str = ""
    rayon: int | None = None
    thematiques: list[str] = field(default_factory=list)
    publics: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    places: bool = False
    sans_rdv: bool = False
    apres: str = ""

    def params(self, **changes: Any) -> dict[str, Any]:
        values = {
            "q": self.q,
            "commune": self.commune,
            "rayon": self.rayon,
            "thematiques": self.thematiques,
            "publics": self.publics,
            "modes": self.modes,
            "places": "1" if self.places else None,
            "sans_rdv": "1" if self.sans_rdv else None,
            "apres": self.apres,
        }
        values.update(changes)
        return values

    def url(self, **changes: Any) -> str:
        return query("/annuaire", self.params(**changes))

    @property
    def empty(self) -> bool:
        return not (self.q or self.commune or self.thematiques or self.publics or self.modes)


def highlighted(text: str | None) -> Markup:
    """The API's highlight (matches in ``<mark>``), re-escaped here: only ``mark`` survives."""
    if not text:
        return Markup("")
    plain = text.replace("<mark>", "\x00").replace("</mark>", "\x01")
    safe = html.escape(html.unescape(plain))
    return Markup(safe.replace("\x00", "<mark>").replace("\x01", "</mark>"))  # noqa: S704


def suggestion(q: str, corrections: dict[str, list[str]]) -> str | None:
    """« Vouliez-vous dire … » : the query with each unknown word replaced by its closest."""
    if not corrections:
        return None
    words = []
    changed = False
    for word in q.split():
        close = corrections.get(word) or corrections.get(word.lower())
        if close:
            words.append(close[0])
            changed = True
        else:
            words.append(word)
    return " ".join(words) if changed else None


async def resolve_commune(
    directory: DirectoryApi, text: str
) -> tuple[Commune | None, list[Commune]]:
    """The commune meant by what was typed (a code, « Nom (code postal) », or a name), or the
    candidates when it is ambiguous."""
    text = text.strip()
    if not text:
        return None, []
    labelled = LABELLED.match(text)
    try:
        if CODE.match(text):
            found = await directory.communes_by_code(text)
        elif labelled:
            found = await directory.communes_by_code(labelled.group("code"))
            named = [c for c in found if c.name.lower() == labelled.group("name").lower()]
            found = named or found
        else:
            found = await directory.communes(text, limit=8)
            exact = [c for c in found if c.name.lower() == text.lower()]
            found = exact if len(exact) == 1 else found
    except ApiError as exc:
        if exc.status in (400, 404, 422):
            return None, []
        raise
    if len(found) == 1:
        return found[0], []
    return None, found


def commune_label(commune: Commune) -> str:
    postal = commune.postal_codes[0] if commune.postal_codes else commune.code
    return f"{commune.name} ({postal})"


class Annuaire(Controller):
    path = "/annuaire"
    include_in_schema = False

    @get()
    async def search(
        self,
        request: Request[Any, Any, Any],
        directory: DirectoryApi,
        q: str = "",
        commune: str = "",
        rayon: str = "",
        thematiques: Many = None,
        publics: Many = None,
        modes: Many = None,
        places: str = "",
        sans_rdv: str = "",
        apres: str = "",
    ) -> Response[Any]:
        asked = Query(
            q=q.strip()[:200],
            commune=commune.strip()[:120],
            rayon=int(rayon) if rayon.isdigit() and int(rayon) in RADII else None,
            thematiques=(thematiques or [])[:30],
            publics=(publics or [])[:30],
            modes=(modes or [])[:10],
            places=bool(places),
            sans_rdv=bool(sans_rdv),
            apres=apres[:500],
        )
        place, candidates = await resolve_commune(directory, asked.commune)
        problem = None
        results: SearchPage[ServiceHit] | None = None
        if asked.commune and place is None and not candidates:
            problem = (
                f"Nous ne trouvons pas la commune « {asked.commune} ». Vérifiez l’orthographe "
                "ou indiquez son code postal."
            )
        elif not candidates:
            try:
                results = await directory.search_services(
                    {
                        "q": asked.q or None,
                        "thematiques": asked.thematiques,
                        "publics": asked.publics,
                        "reception_modes": asked.modes,
                        "capacity": ["accepting"] if asked.places else None,
                        "appointment_required": "false" if asked.sans_rdv else None,
                        "commune": place.code if place else None,
                        "radius_km": asked.rayon if place and asked.rayon else None,
                        "limit": PAGE_SIZE,
                        "cursor": asked.apres or None,
                    }
                )
            except ApiError as exc:
                if exc.status not in (400, 422):
                    raise
                problem = "Cette recherche n’a pas pu être faite : " + (
                    "; ".join(exc.field_errors().values()) or exc.problem.detail or ""
                )
        return render(
            request,
            "annuaire/recherche.html",
            fragment=True,
            title="Annuaire des partenaires",
            asked=asked,
            place=place,
            place_label=commune_label(place) if place else asked.commune,
            candidates=candidates,
            commune_label=commune_label,
            results=results,
            problem=problem,
            radii=RADII,
            highlighted=highlighted,
            suggestion=suggestion(asked.q, results.corrections) if results else None,
        )

    @get("/communes")
    async def communes(
        self,
        request: Request[Any, Any, Any],
        directory: DirectoryApi,
        commune: Annotated[str, Parameter(max_length=100)] = "",
    ) -> Response[Any]:
        """Suggestions for the commune field (htmx fills its ``datalist``)."""
        text = commune.strip()
        found: list[Commune] = []
        if len(text) >= 2:
            try:
                found = await directory.communes(text, limit=10)
            except ApiError as exc:
                if exc.status not in (400, 404, 422):
                    raise
        return render(
            request,
            "annuaire/communes.html",
            title="Communes",
            found=found,
            commune_label=commune_label,
        )


ROUTES = [Annuaire]
