"""Search parameters: validate what a client sent and resolve it into a ``SearchRequest``.

Everything a client can get wrong is answered with a 400 problem naming the parameter (all
faults at once), as for every query parameter; the query text itself is never syntax. A valid
commune without a reference position (overseas collectivities, communes created after the
reference data) cannot be the origin of a distance: asking for one (``sort=distance``,
``radius_km``) is a 422 naming ``commune``.
Resolved: taxonomy values checked, thematique categories expanded, the commune's eligibility
zones and reference position (``geography().position``), the caller's visible statuses, the
keyset cursor (checked to belong to this same search).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.directory.search.analysis import MAX_QUERY_CHARS, parse_query
from services.directory.search.backend import After, Kind, Origin, SearchRequest, Sort
from services.kernel.identity import Caller, Scope
from services.kernel.pagination import decode_cursor
from services.kernel.problems import FieldError, ProblemError, query_error
from services.kernel.reference import Commune, expand_thematiques, geography, taxonomy
from services.kernel.settings import Settings

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
VISIBLE_STATUSES = ("published", "draft", "suspended")

# filter parameter -> taxonomy its values must come from
TAXONOMY_FILTERS: dict[str, str] = {
    "thematiques": "thematiques",
    "publics": "publics",
    "types": "types-de-services",
    "fees": "frais",
    "reception_modes": "modes-accueil",
    "networks": "reseaux-porteurs",
    "typologies": "typologies-de-structures",
}
SERVICE_ONLY = ("types", "fees", "capacity", "appointment_required")
CAPACITY_VALUES = ("accepting", "waiting_list", "full")


@dataclass
class SearchParams:
    """Raw query parameters, as the controller received them."""

    kind: Kind
    path: str
    q: str | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)
    capacity: list[str] = field(default_factory=list)
    appointment_required: bool | None = None
    exclude_stale: bool = False
    status: list[str] = field(default_factory=list)
    commune: str | None = None
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    sort: str | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    facets: bool = True
    highlight: bool = True

    def query_string(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "q": self.q,
            **{k: v for k, v in self.filters.items() if v},
            "capacity": self.capacity or None,
            "appointment_required": _bool(self.appointment_required),
            "exclude_stale": "true" if self.exclude_stale else None,
            "status": self.status or None,
            "commune": self.commune,
            "lat": self.lat,
            "lon": self.lon,
            "radius_km": self.radius_km,
            "sort": self.sort,
            "limit": self.limit,
            "facets": None if self.facets else "false",
            "highlight": None if self.highlight else "false",
        }
        return values


def _bool(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _values(raw: Sequence[str]) -> list[str]:
    """Repeated parameters and comma-separated lists are the same thing."""
    out: list[str] = []
    for item in raw:
        out.extend(v.strip() for v in item.split(",") if v.strip())
    return list(dict.fromkeys(out))


def _problem(errors: list[FieldError]) -> ProblemError:
    detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
    return ProblemError(400, detail, errors=errors)


def _query_error(name: str, reason: str, value: Any = None) -> FieldError:
    return FieldError(field=name, reason=reason, source="query", value=value)


def _caller_scope(
    caller: Caller | None, statuses: set[str]
) -> tuple[frozenset[str], uuid.UUID | None, frozenset[str]]:
    """(statuses visible everywhere, own structure, statuses visible for it)."""
    hidden = statuses - {"published"}
    if not hidden:
        return frozenset(statuses), None, frozenset()
    if caller is None:
        raise ProblemError(
            401,
            "Authentification requise pour voir les entrées non publiées.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if caller.is_moderator:
        return frozenset(statuses), None, frozenset()
    insider = (caller.kind == "user" and caller.is_member_of(caller.structure_id)) or (
        caller.kind == "client"
        and (caller.has_scope(Scope.DIRECTORY_READ) or caller.has_scope(Scope.DIRECTORY_WRITE))
    )
    if not insider or caller.structure_id is None:
        raise ProblemError(
            403, "Seuls les modérateurs et les membres d'une structure voient ses brouillons."
        )
    return frozenset(statuses & {"published"}), caller.structure_id, frozenset(hidden)


def commune_origin(communes: Sequence[Commune]) -> Origin | None:
    """Where a commune is: its reference position (a postal code's communes: the mean of theirs);
    None when none of them has one (``geography().position``)."""
    points = [p for c in communes if (p := geography().position(c.code)) is not None]
    if not points:
        return None
    return Origin(
        sum(p.latitude for p in points) / len(points),
        sum(p.longitude for p in points) / len(points),
    )


def fingerprint(params: SearchParams) -> str:
    key = {k: v for k, v in params.query_string().items() if k not in ("limit", "facets")}
    key["kind"] = params.kind
    raw = repr(sorted((k, repr(v)) for k, v in key.items())).encode()
    return hashlib.sha256(raw).hexdigest()[:12]


def resolve(params: SearchParams, caller: Caller | None, settings: Settings) -> SearchRequest:
    errors: list[FieldError] = []
    q = params.q or ""
    if len(q) > MAX_QUERY_CHARS:
        errors.append(_query_error("q", f"{MAX_QUERY_CHARS} caractères au plus (reçu : {len(q)})"))
        q = ""
    if "\x00" in q:
        errors.append(_query_error("q", "caractère nul interdit"))
    resolved: dict[str, frozenset[str]] = {}
    for name, taxonomy_name in TAXONOMY_FILTERS.items():
        values = _values(params.filters.get(name, []))
        if params.kind == "structure" and name in SERVICE_ONLY and values:
            errors.append(_query_error(name, "filtre réservé à la recherche de services"))
            continue
        known = taxonomy(taxonomy_name).values
        if name == "thematiques":
            known = known | {t.value for t in taxonomy("categories-thematiques").terms}
        unknown = [v for v in values if v not in known]
        if unknown:
            errors.append(
                _query_error(name, f"valeur inconnue : {', '.join(unknown[:5])}", unknown[:5])
            )
        resolved[name] = frozenset(values)
    capacity = _values(params.capacity)
    if capacity and params.kind == "structure":
        errors.append(_query_error("capacity", "filtre réservé à la recherche de services"))
    bad_capacity = [c for c in capacity if c not in CAPACITY_VALUES]
    if bad_capacity:
        errors.append(
            _query_error(
                "capacity",
                f"valeur inconnue : {', '.join(bad_capacity[:5])} "
                f"(attendu : {', '.join(CAPACITY_VALUES)})",
            )
        )
    if params.appointment_required is not None and params.kind == "structure":
        errors.append(
            _query_error("appointment_required", "filtre réservé à la recherche de services")
        )
    statuses = set(_values(params.status)) or {"published"}
    bad_status = sorted(statuses - set(VISIBLE_STATUSES))
    if bad_status:
        errors.append(
            _query_error(
                "status",
                f"valeur inconnue : {', '.join(bad_status)} (attendu : "
                f"{', '.join(VISIBLE_STATUSES)})",
            )
        )
    if not 1 <= params.limit <= MAX_LIMIT:
        errors.append(_query_error("limit", f"doit être compris entre 1 et {MAX_LIMIT}"))
    origin: Origin | None = None
    if (params.lat is None) != (params.lon is None):
        errors.append(
            _query_error("lat" if params.lat is None else "lon", "lat et lon vont ensemble")
        )
    elif params.lat is not None and params.lon is not None:
        if not (math.isfinite(params.lat) and -90 <= params.lat <= 90):
            errors.append(_query_error("lat", "latitude entre -90 et 90"))
        elif not (math.isfinite(params.lon) and -180 <= params.lon <= 180):
            errors.append(_query_error("lon", "longitude entre -180 et 180"))
        else:
            origin = Origin(params.lat, params.lon)
    radius = params.radius_km
    if radius is not None:
        if not math.isfinite(radius) or radius <= 0:
            errors.append(_query_error("radius_km", "doit être un nombre positif"))
        elif radius > settings.search_max_radius_km:
            errors.append(
                _query_error("radius_km", f"au plus {settings.search_max_radius_km:g} km", radius)
            )
    zones: frozenset[str] | None = None
    communes: list[Commune] = []
    if params.commune is not None:
        code = params.commune.strip().upper()
        communes = geography().resolve(code) if len(code) == 5 else []
        if not communes:
            errors.append(
                _query_error("commune", "commune inconnue (code INSEE ou code postal attendu)")
            )
        else:
            zone_set: set[str] = set()
            for commune in communes:
                zone_set |= geography().zones_of(commune.code)
            zones = frozenset(zone_set)
    sort_value = params.sort or ("distance" if not q.strip() and (origin or zones) else "relevance")
    if sort_value not in ("relevance", "distance"):
        errors.append(_query_error("sort", "relevance ou distance"))
    if errors:
        raise _problem(errors)
    cursor_values: list[Any] | None = None
    if params.cursor is not None:
        cursor_values = decode_cursor(params.cursor, (str, float, str, str, float, float))
    if origin is None and communes:
        origin = commune_origin(communes)
        if origin is None and (radius is not None or params.sort == "distance"):
            names = ", ".join(f"{c.name} ({c.code})" for c in communes)
            reason = (
                f"pas de position de référence connue pour {names} : donnez lat et lon pour "
                "trier par distance ou chercher dans un rayon"
            )
            raise ProblemError(
                422, f"commune: {reason}", errors=[_query_error("commune", reason, params.commune)]
            )
    if radius is not None and origin is None:
        raise _problem(
            [
                _query_error(
                    "radius_km",
                    "il faut lat et lon, ou une commune",
                )
            ]
        )
    if sort_value == "distance" and origin is None:
        if params.sort == "distance":
            raise _problem(
                [_query_error("sort", "le tri par distance demande lat/lon ou une commune")]
            )
        sort_value = "relevance"
    sort: Sort = "distance" if sort_value == "distance" else "relevance"
    visible, own_structure, own_statuses = _caller_scope(caller, statuses)
    as_of = datetime.now(UTC).replace(microsecond=0)
    after: After | None = None
    expected = fingerprint(params)
    if cursor_values is not None:
        stamp, key, entity, checked = cursor_values[:4]
        try:
            as_of = datetime.fromisoformat(stamp)
            entity_id = uuid.UUID(entity)
        except ValueError:
            raise query_error("cursor", "curseur invalide ou périmé") from None
        if checked != expected or as_of.tzinfo is None or not math.isfinite(key):
            raise query_error("cursor", "ce curseur appartient à une autre recherche")
        after = After(key=key, entity_id=entity_id)
    thematiques = resolved.get("thematiques", frozenset())
    return SearchRequest(
        kind=params.kind,
        query=parse_query(q),
        as_of=as_of,
        stale_before=as_of - timedelta(days=settings.directory_review_period_days),
        statuses=visible,
        own_structure=own_structure,
        own_statuses=own_statuses,
        thematiques=frozenset(expand_thematiques(thematiques)) if thematiques else frozenset(),
        publics=resolved.get("publics", frozenset()),
        types=resolved.get("types", frozenset()),
        fees=resolved.get("fees", frozenset()),
        reception_modes=resolved.get("reception_modes", frozenset()),
        networks=resolved.get("networks", frozenset()),
        typologies=resolved.get("typologies", frozenset()),
        capacity=frozenset(capacity),
        appointment_required=params.appointment_required,
        exclude_stale=params.exclude_stale,
        zones=zones,
        origin=origin,
        radius_km=radius,
        sort=sort,
        limit=params.limit,
        after=after,
        facets=params.facets,
    )
