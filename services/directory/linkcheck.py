"""Link checker: is every website, referral link and booking link of the directory still alive?

Each URL is probed with ``HEAD`` (``GET`` when the server answers 405 or 501, the body is not
read), redirects followed up to ``MAX_REDIRECTS``, within ``LINK_CHECK_TIMEOUT_SECONDS`` and at
most ``LINK_CHECK_CONCURRENCY`` requests at a time; a URL used by several entries is probed once.
The outcome is stored per (entry, field) in ``link_checks``: last status or error, when, when it
last worked, how many checks in a row failed and since when. When a link is dead (three failed
daily checks, see ``domain.links``) and who sees it failing before that is decided there; the
first success clears it. Probing happens outside any database transaction.

A pass in which no URL answered at all (every probe a DNS, connection or timeout error) says the
machine is offline, not that every site is down: it is not recorded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx
import msgspec
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.domain.links import is_dead
from services.directory.models import LinkCheck, Service, Structure
from services.directory.outgoing import each_at_most
from services.kernel.clock import utcnow
from services.kernel.db import Database
from services.kernel.settings import Settings

log = structlog.get_logger("relais.linkcheck")

MAX_REDIRECTS = 5
USER_AGENT = "Relais-linkcheck/1.0 (directory link checker)"
# (model, field, entity type) of every checked link.
CHECKED_FIELDS: tuple[tuple[type[Structure] | type[Service], str, str], ...] = (
    (Structure, "website", "structure"),
    (Service, "referral_url", "service"),
    (Service, "appointment_url", "service"),
)


@dataclass(frozen=True)
class Link:
    entity_type: str
    entity_id: uuid.UUID
    field: str
    url: str


@dataclass(frozen=True)
class Probe:
    """Outcome of one URL: an HTTP status (final, after redirects) or an error code."""

    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and self.status < 400


class LinkCheckSummary(msgspec.Struct, kw_only=True):
    links: int = 0
    urls: int = 0
    ok: int = 0
    failed: int = 0
    dead: int = 0
    newly_dead: int = 0
    revived: int = 0
    removed: int = 0
    # No URL answered: the checker (not the sites) was offline, nothing was recorded.
    offline: bool = False


async def probe(client: httpx.AsyncClient, url: str) -> Probe:
    """HEAD, then GET when HEAD is not allowed; never raises."""
    try:
        response = await client.head(url)
        if response.status_code in (405, 501):
            async with client.stream("GET", url) as streamed:
                return Probe(streamed.status_code, None)
        return Probe(response.status_code, None)
    except httpx.TooManyRedirects:
        return Probe(None, "too_many_redirects")
    except httpx.TimeoutException:
        return Probe(None, "timeout")
    except httpx.ConnectError as exc:
        # Name resolution failures surface as connection errors.
        text = str(exc).lower()
        resolution = ("name", "resolve", "nodename", "getaddrinfo", "not known")
        return Probe(None, "dns_error" if any(w in text for w in resolution) else "connect_error")
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        return Probe(None, "invalid_url")
    except httpx.HTTPError as exc:
        return Probe(None, type(exc).__name__[:50])
    except ValueError:
        return Probe(None, "invalid_url")


def make_client(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.link_check_timeout_seconds),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=max(1, settings.link_check_concurrency)),
    )


async def probe_all(
    urls: list[str], settings: Settings, client: httpx.AsyncClient | None = None
) -> dict[str, Probe]:
    """Probe each URL once, at most ``link_check_concurrency`` at a time."""
    return await each_at_most(
        urls,
        settings.link_check_concurrency,
        probe,
        client=client,
        make_client=lambda: make_client(settings),
    )


async def collect_links(session: AsyncSession) -> list[Link]:
    """Every checked link of entries that are not archived."""
    links: list[Link] = []
    for model, field, kind in CHECKED_FIELDS:
        column = getattr(model, field)
        query = (
            sa.select(model.id, column)
            .where(column.is_not(None), column != "", model.status != "archived")
            .order_by(model.id)
        )
        for entity_id, url in (await session.execute(query)).all():
            links.append(Link(kind, entity_id, field, url.strip()))
    return links


def apply(check: LinkCheck, outcome: Probe, now: datetime) -> tuple[bool, bool]:
    """Record one outcome; returns (became dead, came back to life)."""
    was_dead = bool(check.dead)
    check.last_checked_at = now
    check.last_status = outcome.status
    if outcome.ok:
        check.last_error = None
        check.last_ok_at = now
        check.consecutive_failures = 0
        check.failing_since = None
        check.dead = False
        return False, was_dead
    check.last_error = outcome.error or f"http_{outcome.status}"
    check.consecutive_failures = (check.consecutive_failures or 0) + 1
    if check.failing_since is None:
        check.failing_since = now
    # Once dead, dead until a success.
    check.dead = was_dead or is_dead(check.consecutive_failures, check.failing_since, now)
    return check.dead and not was_dead, False


async def record(
    session: AsyncSession, links: list[Link], outcomes: dict[str, Probe], now: datetime
) -> LinkCheckSummary:
    summary = LinkCheckSummary(links=len(links), urls=len(outcomes))
    existing = {
        (c.entity_id, c.field): c for c in (await session.scalars(sa.select(LinkCheck))).all()
    }
    seen: set[tuple[uuid.UUID, str]] = set()
    for link in links:
        key = (link.entity_id, link.field)
        seen.add(key)
        check = existing.get(key)
        if check is None:
            check = LinkCheck(
                entity_type=link.entity_type,
                entity_id=link.entity_id,
                field=link.field,
                url=link.url,
                consecutive_failures=0,
                dead=False,
            )
            session.add(check)
        elif check.url != link.url:
            # The entry now points elsewhere: the old history says nothing about the new URL.
            check.url = link.url
            check.consecutive_failures = 0
            check.failing_since = None
            check.dead = False
            check.last_ok_at = None
        outcome = outcomes[link.url]
        newly_dead, revived = apply(check, outcome, now)
        summary.ok += outcome.ok
        summary.failed += not outcome.ok
        summary.dead += bool(check.dead)
        summary.newly_dead += newly_dead
        summary.revived += revived
    for key, check in existing.items():
        if key not in seen:
            await session.delete(check)
            summary.removed += 1
    return summary


async def check_links(
    db: Database,
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    now: datetime | None = None,
) -> LinkCheckSummary:
    """One full pass: read the links, probe them (no transaction open), store the outcomes."""
    async with db.session() as session:
        links = await collect_links(session)
    urls = sorted({link.url for link in links})
    outcomes = await probe_all(urls, settings, client)
    if outcomes and all(outcome.status is None for outcome in outcomes.values()):
        log.warning("link_check_offline", urls=len(urls))
        return LinkCheckSummary(links=len(links), urls=len(urls), offline=True)
    async with db.session() as session:
        return await record(session, links, outcomes, now or utcnow())
