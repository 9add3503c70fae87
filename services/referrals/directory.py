"""Target validation through the directory's public HTTP API (see docs/contracts.md)."""

from __future__ import annotations

import time
import uuid
import weakref
from dataclasses import dataclass
from typing import TypeVar

import httpx
import msgspec
import structlog

from services.kernel.http import ServiceLocator
from services.kernel.problems import FieldError, ProblemError, unavailable_detail
from services.referrals.domain import vocabulary

log = structlog.get_logger("relais.referrals.directory")
T = TypeVar("T")


class StructureInfo(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    status: str
    accepts_referrals: bool = False


class ServiceInfo(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    structure_id: uuid.UUID
    name: str
    status: str
    capacity_status: str | None = None
    accepts_referrals: bool = False
    referral_response_days: int | None = None
    referable_by: list[str] = []


@dataclass(frozen=True)
class Target:
    structure_id: uuid.UUID
    structure_name: str
    service_id: uuid.UUID | None
    service_name: str | None
    response_days: int | None


def unavailable(*, reading: bool = False) -> ProblemError:
    """The directory did not answer: a read says it could not read, a write that nothing was
    saved."""
    detail = (
        unavailable_detail("L'annuaire", "GET")
        if reading
        else "L'annuaire est injoignable : la cible ne peut pas être vérifiée, rien n'a été "
        "enregistré. Réessayez dans quelques instants."
    )
    return ProblemError(503, detail, headers={"Retry-After": "30"})


def _invalid(field: str, reason: str) -> ProblemError:
    return ProblemError(422, f"{field} : {reason}", errors=[FieldError(field=field, reason=reason)])


async def _fetch(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], kind: type[T]
) -> T | None:
    try:
        response = await client.get(path, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("directory_unreachable", error_type=type(exc).__name__)
        raise unavailable() from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        log.warning("directory_error", status=response.status_code)
        raise unavailable()
    try:
        return msgspec.json.decode(response.content, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("directory_bad_payload", error_type=type(exc).__name__)
        raise unavailable() from exc


# Targets that passed every check, remembered briefly per locator (one directory round trip
# per target every few seconds, not per referral). Refusals are never remembered: a target that
# becomes valid is usable at once; one that stops being valid may still be accepted for at most
# TARGET_CACHE_SECONDS. What is remembered is public (published, receiving) directory data.
TARGET_CACHE_SECONDS = 10.0
TARGET_CACHE_SIZE = 1024
_targets: weakref.WeakKeyDictionary[
    ServiceLocator, dict[tuple[uuid.UUID, uuid.UUID | None], tuple[float, Target]]
] = weakref.WeakKeyDictionary()


async def resolve_target(
    locator: ServiceLocator,
    authorization: str | None,
    structure_id: uuid.UUID,
    service_id: uuid.UUID | None,
    *,
    field: str = "target",
) -> Target:
    """Check the target exists, is published, receives referrals and is not full."""
    cache = _targets.setdefault(locator, {})
    key = (structure_id, service_id)
    now = time.monotonic()
    known = cache.get(key)
    if known is not None and now - known[0] < TARGET_CACHE_SECONDS:
        return known[1]
    target = await _resolve(locator, authorization, structure_id, service_id, field=field)
    cache.pop(key, None)
    if len(cache) >= TARGET_CACHE_SIZE:
        del cache[next(iter(cache))]  # the oldest
    cache[key] = (now, target)
    return target


async def _resolve(
    locator: ServiceLocator,
    authorization: str | None,
    structure_id: uuid.UUID,
    service_id: uuid.UUID | None,
    *,
    field: str,
) -> Target:
    headers = {"Authorization": authorization} if authorization else {}
    async with locator.client("directory") as client:
        structure = await _fetch(
            client, f"/directory/v1/structures/{structure_id}", headers, StructureInfo
        )
        if structure is None:
            raise _invalid(f"{field}.structure_id", "structure inconnue de l'annuaire")
        if structure.status != "published":
            raise _invalid(f"{field}.structure_id", "structure non publiée dans l'annuaire")
        if not structure.accepts_referrals:
            raise _invalid(
                f"{field}.structure_id", "cette structure ne reçoit pas d'orientations par Relais"
            )
        service: ServiceInfo | None = None
        if service_id is not None:
            service = await _fetch(
                client, f"/directory/v1/services/{service_id}", headers, ServiceInfo
            )
            if service is None or service.structure_id != structure_id:
                raise _invalid(f"{field}.service_id", "service inconnu pour cette structure")
            if service.status != "published":
                raise _invalid(f"{field}.service_id", "service non publié dans l'annuaire")
            if not service.accepts_referrals:
                raise _invalid(f"{field}.service_id", "ce service ne reçoit pas d'orientations")
            if service.capacity_status == "full":
                raise _invalid(f"{field}.service_id", "ce service est complet")
            if not vocabulary.open_to_professionals(service.referable_by):
                who = ", ".join(service.referable_by)
                raise _invalid(
                    f"{field}.service_id",
                    f"ce service ne reçoit que les orientations de : {who} ; pas celles d'un "
                    "professionnel (this service only takes referrals from: "
                    f"{who}; not from a professional)",
                )
    return Target(
        structure_id=structure.id,
        structure_name=structure.name,
        service_id=service.id if service else None,
        service_name=service.name if service else None,
        response_days=service.referral_response_days if service else None,
    )


class PublicContact(msgspec.Struct, kw_only=True):
    name: str
    phone: str | None = None


async def public_contact(locator: ServiceLocator, structure_id: uuid.UUID) -> PublicContact | None:
    """A structure's public name and phone, read anonymously from the directory (what anyone
    may read there); None when the directory does not answer (the page still shows the rest)."""
    try:
        async with locator.client("directory") as client:
            return await _fetch(
                client, f"/directory/v1/structures/{structure_id}", {}, PublicContact
            )
    except ProblemError:
        return None
