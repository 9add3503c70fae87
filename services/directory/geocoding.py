"""Address geocoder: the position of an entry's address, from the Base Adresse Nationale (BAN).

Optional and off by default: nothing here makes a request unless ``GEOCODER_URL`` is set (the
BAN's search endpoint, ``https://api-adresse.data.gouv.fr/search/``, the same API at the IGN
Géoplateforme, ``https://data.geopf.fr/geocodage/search``, or any server answering its format).
Without it, an entry with an INSEE code but no coordinates is placed at its commune's reference
point (``domain.positions``), as it always is until its address is found.

One code path: the worker job ``directory.geocode`` is the only place positions are computed
from addresses. Writes (API create/update, data·inclusion imports) never call the geocoder:
they stay as fast as before and never fail or wait because it is slow or down. A write that
changes an address clears the entry's geocoded position (``domain.positions.GEOCODE_VOID``);
each run of the job then takes the entries that have a street address and an INSEE code, no
coordinates of their own and no geocoder answer yet (``geocoded_at`` null), a batch at a time:

- one request per distinct query (``domain.geocoding.query_of``), at most
  ``GEOCODE_CONCURRENCY`` at a time, each within ``GEOCODER_TIMEOUT_SECONDS`` and tried
  ``ATTEMPTS`` times (a timeout, a connection error, a 429 or a 5xx is retried after a short
  backoff; another 4xx than 400 says the setting is wrong and is not); no database transaction
  is open meanwhile;
- an answer is believed per ``domain.geocoding.judge`` (same commune, finer than the commune,
  score at least ``GEOCODER_MIN_SCORE``): the entry gets ``geocoded_latitude/longitude`` (the
  API shows precision ``geocoded``); otherwise only ``geocoded_at`` is set (« looked up, not
  found »: the entry keeps its commune's point and is not asked about again until its address
  changes);
- an entry the geocoder could not answer for (still failing after the retries) is left as it
  was and tried again at the next run; a batch with such failures ends the run (the geocoder
  is struggling: it is given the job's interval to recover);
- a position is stored only if the entry's address is still the one looked up (a concurrent
  write wins), with an outbox event and the search documents refreshed in the same transaction,
  like any write; the entry's ``version`` and ``updated_at`` do not change (a derived field,
  like the link checker's states: no edit conflict with someone editing the entry).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory import models as m
from services.directory.domain.geocoding import (
    FeatureCollection,
    Found,
    NotFound,
    Query,
    judge,
    query_of,
)
from services.directory.outgoing import each_at_most
from services.directory.search.indexing import (
    refresh_search_index,
    refresh_structure_search_index,
)
from services.kernel.clock import utcnow
from services.kernel.db import Database
from services.kernel.outbox import publish
from services.kernel.settings import Settings

log = structlog.get_logger("relais.geocoder")

USER_AGENT = "Relais-geocoder/1.0 (directory address positions)"
# Requests at a time (the BAN allows 50 per second and per address).
GEOCODE_CONCURRENCY = 4
# Tries per query, and the wait before the second (doubled before each next one).
ATTEMPTS = 3
RETRY_DELAY_SECONDS = 0.5
# Entries of each kind read per batch, and batches per run of the job.
GEOCODE_BATCH = 500
GEOCODE_MAX_BATCHES = 20

ENTRY_MODELS: tuple[tuple[type[m.Structure] | type[m.Service] | type[m.Place], str], ...] = (
    (m.Structure, "structure"),
    (m.Service, "service"),
    (m.Place, "place"),
)


@dataclass(frozen=True)
class Unavailable:
    """No usable answer after every attempt (timeout, connection error, 429, 5xx, not JSON)."""

    error: str


Outcome = Found | NotFound | Unavailable


@dataclass(frozen=True)
class Pending:
    """An entry waiting for the geocoder, with the address it is looked up for."""

    kind: str
    id: uuid.UUID
    structure_id: uuid.UUID
    address: str | None
    postal_code: str | None
    commune_code: str | None
    commune: str | None

    @property
    def query(self) -> Query | None:
        return query_of(self.address, self.postal_code, self.commune_code, self.commune)


class GeocodeSummary(msgspec.Struct, kw_only=True):
    # False when GEOCODER_URL is empty: nothing was read or asked.
    enabled: bool = True
    entries: int = 0
    queries: int = 0
    found: int = 0
    not_found: int = 0
    # Entries left for a later run: the geocoder did not answer.
    unavailable: int = 0
    # Positions not stored because the entry's address changed meanwhile.
    superseded: int = 0


def make_client(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.geocoder_timeout_seconds),
        # A moved endpoint (the BAN's API now also answers at the IGN Géoplateforme) keeps working.
        follow_redirects=True,
        max_redirects=3,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        limits=httpx.Limits(max_connections=GEOCODE_CONCURRENCY),
    )


async def locate(client: httpx.AsyncClient, settings: Settings, query: Query) -> Outcome:
    """Ask the geocoder for one query, with retries; never raises."""
    params = query.params()
    error = "no_attempt"
    for attempt in range(ATTEMPTS):
        if attempt:
            await asyncio.sleep(RETRY_DELAY_SECONDS * 2 ** (attempt - 1))
        try:
            response = await client.get(settings.geocoder_url, params=params)
        except httpx.TimeoutException:
            error = "timeout"
            continue
        except httpx.HTTPError as exc:
            error = type(exc).__name__[:50]
            continue
        status = response.status_code
        if status == 429 or status >= 500:
            error = f"http_{status}"
            continue
        if status == 400:
            # The geocoder refuses this query (too short, bad characters…): asking again would
            # not help.
            return NotFound("http_400")
        if status != 200:
            # 404, 401, 403…: the setting (URL, access) is wrong, not the address. Nothing is
            # concluded about it; the run stops and says so.
            return Unavailable(f"http_{status}")
        try:
            answer = msgspec.json.decode(response.content, type=FeatureCollection)
        except msgspec.MsgspecError:
            error = "invalid_response"
            continue
        return judge(answer, query, settings.geocoder_min_score)
    return Unavailable(error)


async def locate_all(
    queries: Sequence[Query], settings: Settings, client: httpx.AsyncClient | None = None
) -> dict[Query, Outcome]:
    """Each query once, at most ``GEOCODE_CONCURRENCY`` at a time."""
    return await each_at_most(
        queries,
        GEOCODE_CONCURRENCY,
        lambda http, query: locate(http, settings, query),
        client=client,
        make_client=lambda: make_client(settings),
    )


def _structure_id(model: type[Any]) -> Any:
    return model.id if model is m.Structure else model.structure_id


async def collect_pending(session: AsyncSession, limit: int = GEOCODE_BATCH) -> list[Pending]:
    """Entries (not archived) with a street address and an INSEE code, no coordinates of their
    own and no geocoder answer for their current address; oldest changes first."""
    pending: list[Pending] = []
    for model, kind in ENTRY_MODELS:
        query = (
            sa.select(
                model.id,
                _structure_id(model).label("structure_id"),
                model.address,
                model.postal_code,
                model.commune_code,
                model.commune,
            )
            .where(
                model.geocoded_at.is_(None),
                sa.or_(model.latitude.is_(None), model.longitude.is_(None)),
                model.address.is_not(None),
                model.address != "",
                model.commune_code.is_not(None),
                model.status != "archived",
            )
            .order_by(model.updated_at, model.id)
            .limit(limit)
        )
        for row in (await session.execute(query)).all():
            pending.append(
                Pending(
                    kind,
                    row.id,
                    row.structure_id,
                    row.address,
                    row.postal_code,
                    row.commune_code,
                    row.commune,
                )
            )
    return pending


async def record(
    session: AsyncSession,
    pending: Sequence[Pending],
    outcomes: dict[Query, Outcome],
    now: datetime,
    summary: GeocodeSummary,
) -> None:
    """Store the answers of a batch (module docstring), in the caller's transaction."""
    models = dict((kind, model) for model, kind in ENTRY_MODELS)
    services: set[uuid.UUID] = set()
    structures: set[uuid.UUID] = set()
    for entry in pending:
        query = entry.query
        outcome: Outcome = NotFound("no_query") if query is None else outcomes[query]
        if isinstance(outcome, Unavailable):
            summary.unavailable += 1
            continue
        model = models[entry.kind]
        found = isinstance(outcome, Found)
        values = {
            "geocoded_latitude": outcome.latitude if isinstance(outcome, Found) else None,
            "geocoded_longitude": outcome.longitude if isinstance(outcome, Found) else None,
            "geocoded_at": now,
        }
        result = await session.execute(
            sa.update(model)
            .where(
                model.id == entry.id,
                model.geocoded_at.is_(None),
                model.address.is_not_distinct_from(entry.address),
                model.postal_code.is_not_distinct_from(entry.postal_code),
                model.commune_code.is_not_distinct_from(entry.commune_code),
                model.commune.is_not_distinct_from(entry.commune),
            )
            .values(values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            summary.superseded += 1
            continue
        if not found:
            summary.not_found += 1
            continue
        summary.found += 1
        publish(
            session,
            m.OutboxEvent,
            f"{entry.kind}.upserted",
            entry.id,
            {"id": str(entry.id), "structure_id": str(entry.structure_id)},
        )
        if entry.kind == "service":
            services.add(entry.id)
        elif entry.kind == "structure":
            structures.add(entry.id)
    # A structure's position is part of its services' documents; a place's is in none.
    if structures:
        await refresh_structure_search_index(session, structures)
    if services:
        await refresh_search_index(session, services)


async def geocode_pending(
    db: Database,
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    now: datetime | None = None,
    max_batches: int = GEOCODE_MAX_BATCHES,
    batch: int = GEOCODE_BATCH,
) -> GeocodeSummary:
    """One run of the job: batches until no entry waits, the geocoder fails, or
    ``max_batches``. Does nothing at all when ``GEOCODER_URL`` is empty."""
    if not settings.geocoder_url:
        return GeocodeSummary(enabled=False)
    summary = GeocodeSummary()
    own = client is None
    http = client or make_client(settings)
    try:
        for _ in range(max_batches):
            async with db.session() as session:
                pending = await collect_pending(session, batch)
            if not pending:
                break
            queries = sorted({q for q in (p.query for p in pending) if q is not None})
            outcomes = await locate_all(queries, settings, http)
            summary.entries += len(pending)
            summary.queries += len(queries)
            unavailable = summary.unavailable
            async with db.session() as session:
                await record(session, pending, outcomes, now or utcnow(), summary)
            if summary.unavailable > unavailable:
                failures = [o for o in outcomes.values() if isinstance(o, Unavailable)]
                log.warning(
                    "geocoder_unavailable",
                    queries=len(queries),
                    failed=len(failures),
                    error=failures[0].error,
                )
                break
    finally:
        if own:
            await http.aclose()
    return summary
