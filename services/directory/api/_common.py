"""Shared pieces of the native directory controllers: authorisation, ETags, errors, paging.

Authorisation (one place):
- reading: published and archived entries are public; drafts and suspended entries are visible
  to moderators and to insiders of the owning structure (or of its parent structure): its members,
  and API clients bound to it with ``directory:read`` or ``directory:write``. Others get 404.
- members-only contacts of a service: shown to the same insiders and to moderators only.
- writing: moderators; admins of the owning structure or of its parent; API clients bound to the
  owning structure (or its parent) with ``directory:write`` (``Caller.may(..., admin=True)``).

Concurrency: GET answers ``ETag: "<version>"``; a GET with ``If-None-Match`` naming the current
version (or ``*``) answers 304 with no body. PATCH and DELETE (archive) require ``If-Match``
(428 without it, 412 when it does not name the current version; ``*`` matches any version).
The POST actions (verify, publish, unpublish, suspend) accept an optional ``If-Match``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from services.directory import models as m
from services.directory.domain import moderation
from services.directory.domain.moderation import Action, Actor, ModerationError
from services.directory.domain.review import Thresholds
from services.directory.store import lists, writes
from services.kernel.clock import utcnow
from services.kernel.errors import FieldError
from services.kernel.identity import Caller, Scope
from services.kernel.pagination import decode_cursor, encode_cursor, next_link
from services.kernel.problems import ProblemError, query_error
from services.kernel.reference import geography, taxonomy
from services.kernel.settings import Settings

PREFIX = "/directory/v1"
# "<version>" (writes) or "<version>-<digest of the representation>" (reads): If-Match only
# looks at the version.
_ETAG = re.compile(r'^"(\d{1,18})(?:-[0-9a-f]{1,32})?"$')
EntryStatus = Literal["draft", "published", "suspended", "archived"]
STATUS_VALUES: tuple[str, ...] = get_args(EntryStatus)


def settings_of(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def now() -> datetime:
    return utcnow()


# --- who is the caller for this entry ---------------------------------------------------------


def reader(caller: Caller | None) -> lists.Reader:
    if caller is None:
        return lists.Reader()
    if caller.is_moderator:
        return lists.Reader(moderator=True)
    if caller.kind == "user" and caller.is_member_of(caller.structure_id):
        return lists.Reader(structure_id=caller.structure_id)
    if caller.kind == "client" and (
        caller.has_scope(Scope.DIRECTORY_READ) or caller.has_scope(Scope.DIRECTORY_WRITE)
    ):
        return lists.Reader(structure_id=caller.structure_id)
    return lists.Reader()


def _owners(owner_id: uuid.UUID, parent_id: uuid.UUID | None) -> list[uuid.UUID]:
    return [owner_id] if parent_id is None else [owner_id, parent_id]


def is_insider(caller: Caller | None, owner_id: uuid.UUID, parent_id: uuid.UUID | None) -> bool:
    if caller is None:
        return False
    if caller.is_moderator:
        return True
    r = reader(caller)
    return r.structure_id is not None and r.structure_id in _owners(owner_id, parent_id)


def can_see(
    caller: Caller | None, status: str, owner_id: uuid.UUID, parent_id: uuid.UUID | None
) -> bool:
    return status in ("published", "archived") or is_insider(caller, owner_id, parent_id)


def actor(caller: Caller, owner_id: uuid.UUID | None, parent_id: uuid.UUID | None) -> Actor:
    if caller.is_moderator:
        return Actor.MODERATOR
    owners = [] if owner_id is None else _owners(owner_id, parent_id)
    if any(caller.may(Scope.DIRECTORY_WRITE, sid, admin=True) for sid in owners):
        return Actor.OWNER
    return Actor.OTHER


def store_actor(caller: Caller) -> writes.Actor:
    return writes.Actor(subject=caller.subject, structure_id=caller.structure_id)


def check(status: str, action: Action, who: Actor) -> str:
    try:
        return moderation.transition(status, action, who)
    except ModerationError as exc:
        raise ProblemError(exc.status, exc.detail) from None


def check_initial(requested: str, who: Actor) -> str:
    try:
        return moderation.initial_status(requested, who)
    except ModerationError as exc:
        raise ProblemError(exc.status, exc.detail) from None


# --- ETag / If-Match ---------------------------------------------------------------------------


def etag_header(entity: Any) -> dict[str, str]:
    """ETag of an entry (ORM object or row with a ``version``)."""
    return {"ETag": f'"{entity.version}"', "Vary": "Authorization"}


def read_response(request: Request[Any, Any, Any], entity: Any, body: Any) -> Response[Any]:
    """A GET answer whose ETag names the version and the representation itself: derived fields
    (``stale``, link-checker states, what this caller may see) can change without a new version,
    and a 304 must never hide them. ``If-None-Match`` naming that ETag (or ``*``) answers 304."""
    digest = hashlib.blake2b(msgspec.json.encode(body), digest_size=6).hexdigest()
    tag = f'"{entity.version}-{digest}"'
    headers = {"ETag": tag, "Vary": "Authorization"}
    header = request.headers.get("if-none-match")
    if header is not None:
        # Weak comparison (RFC 9110 §13.1.2): W/"3-…" matches "3-…".
        tags = {part.strip().removeprefix("W/") for part in header.split(",")}
        if "*" in tags or tag in tags:
            return Response(content=b"", status_code=304, headers=headers)
    return Response(body, headers=headers)


NOT_MODIFIED = {
    304: ResponseSpec(
        data_container=None,
        description="Non modifié : l'ETag envoyé dans If-None-Match est celui de la "
        "représentation actuelle.",
    )
}


def expected_version(
    request: Request[Any, Any, Any], entity: m.Structure | m.Service | m.Place, *, required: bool
) -> int | None:
    """The version the client holds (from If-Match), checked against the entry's."""
    header = request.headers.get("if-match")
    if header is None or not header.strip():
        if required:
            raise ProblemError(
                428,
                "En-tête If-Match requis : renvoyez l'ETag lu avec GET pour éviter "
                "d'écraser une modification concurrente.",
            )
        return None
    if header.strip() == "*":
        return entity.version
    versions = set()
    for part in header.split(","):
        match = _ETAG.match(part.strip())
        if match:
            versions.add(int(match.group(1)))
    if entity.version not in versions:
        raise stale(entity.version)
    return entity.version


def stale(current: int | None) -> ProblemError:
    if current is None:
        return ProblemError(404, "Fiche introuvable.")
    return ProblemError(
        412,
        f"La fiche a été modifiée entre-temps (version actuelle {current}) : "
        "relisez-la puis recommencez.",
        headers={"ETag": f'"{current}"'},
        current_version=current,
    )


# --- errors ----------------------------------------------------------------------------------


def invalid(errors: Sequence[FieldError]) -> ProblemError:
    detail = "; ".join(f"{e.field} : {e.reason}" for e in errors)
    return ProblemError(422, f"Données invalides — {detail}", errors=list(errors))


def source_conflict() -> ProblemError:
    return ProblemError(
        409,
        "Une fiche existe déjà avec ces source et source_id.",
        errors=[FieldError(field="source_id", reason="déjà utilisé pour cette source")],
    )


def to_values(data: msgspec.Struct) -> dict[str, Any]:
    """Fields actually sent (UNSET dropped), as plain Python values (nested structs → dicts)."""
    values: dict[str, Any] = {}
    for name in data.__struct_fields__:
        value = getattr(data, name)
        if value is msgspec.UNSET:
            continue
        if isinstance(value, list) and value and isinstance(value[0], msgspec.Struct):
            value = msgspec.to_builtins(value)
            if name == "sessions":
                for item in value:
                    item["place_id"] = uuid.UUID(item["place_id"])
        values[name] = value
    return values


# --- paging ----------------------------------------------------------------------------------


def decode(cursor: str | None, *, by_update: bool) -> tuple[Any, ...] | None:
    if cursor is None:
        return None
    if by_update:
        return tuple(decode_cursor(cursor, [datetime, uuid.UUID]))
    return tuple(decode_cursor(cursor, [uuid.UUID]))


def encode(keyset: tuple[Any, ...] | None) -> str | None:
    return None if keyset is None else encode_cursor(keyset)


def link(request: Request[Any, Any, Any], cursor: str | None) -> str | None:
    settings = settings_of(request.app.state)
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return next_link(settings.base_url, request.url.path, params, cursor)


Statuses = Annotated[
    list[EntryStatus] | None,
    Parameter(description="statuts voulus (défaut : published) ; répétable"),
]


def statuses(values: list[EntryStatus] | None) -> list[str]:
    return list(dict.fromkeys(values or ["published"]))


# --- review filters of the lists ---------------------------------------------------------------

Stale = Annotated[
    bool | None,
    Parameter(
        description="true : fiches à revoir (dernière mise à jour ou confirmation plus ancienne "
        "que la période de revue, ou date de la source pour une fiche importée) ; "
        "false : fiches à jour"
    ),
]
Verified = Annotated[
    bool | None,
    Parameter(description="false : jamais confirmées (POST …/verify) ; true : confirmées"),
]
LinkState = Annotated[
    list[Literal["dead", "failing"]] | None,
    Parameter(
        description="fiches ayant au moins un lien mort (dead) ou en échec (failing : vu "
        "seulement par la structure et la modération) ; répétable"
    ),
]
Network = Annotated[
    str | None,
    Parameter(description="réseau porteur (valeur data·inclusion) : fiches de ses structures"),
]
CapacityUnconfirmedDays = Annotated[
    int | None,
    Parameter(
        ge=0,
        le=3650,
        description="services dont la capacité (places, liste d'attente, complet) n'a pas été "
        "indiquée ou confirmée depuis N jours (ou jamais)",
    ),
]


def network_param(network: str | None) -> str | None:
    if network is not None and network not in taxonomy("reseaux-porteurs").values:
        raise query_error("network", f"réseau inconnu « {network} »")
    return network


def review_filters(
    query: lists.ListQuery,
    request: Request[Any, Any, Any],
    *,
    stale: bool | None,
    verified: bool | None,
    link_state: Sequence[str] | None,
    network: str | None,
    capacity_unconfirmed_days: int | None = None,
) -> lists.ListQuery:
    """The review filters of a list request set on ``query``."""
    thresholds = Thresholds(
        now=now(),
        review_days=settings_of(request.app.state).directory_review_period_days,
        capacity_days=capacity_unconfirmed_days or 0,
    )
    query.network = network_param(network)
    query.stale = stale
    query.stale_before = thresholds.stale_before
    query.verified = verified
    query.link_states = list(dict.fromkeys(link_state or ()))
    if capacity_unconfirmed_days is not None:
        query.capacity_before = thresholds.capacity_before
    return query


def commune_param(code: str | None) -> str | None:
    if code is None:
        return None
    if geography().commune(code) is None:
        raise query_error("commune", "code INSEE inconnu")
    return code


def not_found(kind: str) -> ProblemError:
    return ProblemError(404, f"{kind} introuvable.")
