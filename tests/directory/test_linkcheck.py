"""Link checker against a local HTTP server started by the test (never the internet)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.directory import worker
from services.directory.domain.links import DEAD_AFTER_SPAN
from services.directory.linkcheck import (
    LinkCheckSummary,
    check_links,
    make_client,
    probe,
    probe_all,
)
from services.directory.models import LinkCheck, Service, Structure
from services.kernel.clock import utcnow
from services.kernel.settings import Settings, load_settings
from tests.conftest import Relais
from tests.directory.helpers import member, moderator


@dataclass
class Server:
    """A tiny HTTP/1.1 server on 127.0.0.1 with one behaviour per path."""

    port: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    flaky_status: int = 500
    in_flight: int = 0
    max_in_flight: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    gate_reached: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await reader.readline()).decode()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            method, path, _ = line.split(" ", 2)
            self.requests.append((method, path))
            status, headers = await self.route(method, path)
            head = f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write((head + "\r\n").encode() + (b"" if method == "HEAD" else b"ok"))
            await writer.drain()
        except (ConnectionError, ValueError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def route(self, method: str, path: str) -> tuple[int, dict[str, str]]:
        if path == "/ok":
            return 200, {}
        if path == "/missing":
            return 404, {}
        if path == "/no-head":
            return (405, {}) if method == "HEAD" else (200, {})
        if path == "/head-not-implemented":
            return (501, {}) if method == "HEAD" else (200, {})
        if path == "/moved":
            return 301, {"Location": "/ok"}
        if path == "/loop":
            return 302, {"Location": "/loop"}
        if path == "/slow":
            await asyncio.sleep(5)
            return 200, {}
        if path == "/flaky":
            return self.flaky_status, {}
        if path.startswith("/gate/"):
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.in_flight >= 2:
                self.gate_reached.set()
            await self.release.wait()
            self.in_flight -= 1
            return 200, {}
        return 404, {}


class LocalOnly(httpx.AsyncBaseTransport):
    """Lets requests reach 127.0.0.1 only; any other host fails as an unknown name would."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in ("127.0.0.1", ""):
            raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    listener = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = listener.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        state.release.set()
        listener.close()
        await listener.wait_closed()


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"link_check_timeout_seconds": 0.5, "link_check_concurrency": 2}
    values.update(overrides)
    return load_settings(environ={}, **values)


async def test_probe_outcomes(server: Server) -> None:
    async with make_client(settings(), transport=LocalOnly()) as client:
        ok = await probe(client, server.url("/ok"))
        assert ok.ok
        assert ok.status == 200
        missing = await probe(client, server.url("/missing"))
        assert not missing.ok
        assert missing.status == 404
        no_head = await probe(client, server.url("/no-head"))
        assert no_head.ok
        assert no_head.status == 200
        assert ("GET", "/no-head") in server.requests
        not_implemented = await probe(client, server.url("/head-not-implemented"))
        assert not_implemented.ok
        moved = await probe(client, server.url("/moved"))
        assert moved.ok
        assert moved.status == 200
        loop = await probe(client, server.url("/loop"))
        assert not loop.ok
        assert loop.error == "too_many_redirects"
        slow = await probe(client, server.url("/slow"))
        assert not slow.ok
        assert slow.error == "timeout"
        unknown = await probe(client, "https://lien-mort.invalid/page")
        assert not unknown.ok
        assert unknown.error == "dns_error"
        garbage = await probe(client, "not a url")
        assert not garbage.ok
        assert garbage.error == "invalid_url"
    # HEAD first: the body of a live page is never downloaded.
    assert ("GET", "/ok") not in server.requests


async def test_concurrency_is_limited(server: Server) -> None:
    urls = [server.url(f"/gate/{i}") for i in range(6)]
    client = make_client(settings(link_check_timeout_seconds=5), transport=LocalOnly())

    async def open_gate() -> None:
        await server.gate_reached.wait()
        await asyncio.sleep(0.1)  # leave time for a third request to (wrongly) start
        server.release.set()

    async with client:
        results, _ = await asyncio.gather(
            probe_all(urls, settings(link_check_timeout_seconds=5), client), open_gate()
        )
    assert all(r.ok for r in results.values())
    assert server.max_in_flight == 2


async def _entities(relais: Relais, server: Server) -> tuple[uuid.UUID, uuid.UUID]:
    db = relais.app("directory").state.db
    tag = uuid.uuid4().hex[:8]
    async with db.session() as session:
        structure = Structure(
            name=f"Structure liens {tag}",
            source="test-linkcheck",
            source_id=tag,
            status="published",
            website=server.url("/flaky"),
        )
        session.add(structure)
        await session.flush()
        service = Service(
            structure_id=structure.id,
            name=f"Service liens {tag}",
            source="test-linkcheck",
            source_id=tag,
            status="published",
            referral_url=server.url("/no-head"),
            appointment_url="https://lien-mort.invalid/rendez-vous",
        )
        session.add(service)
        await session.flush()
        return structure.id, service.id


async def _checks(relais: Relais, *ids: uuid.UUID) -> dict[tuple[uuid.UUID, str], LinkCheck]:
    async with relais.app("directory").state.db.session() as session:
        rows = await session.scalars(sa.select(LinkCheck).where(LinkCheck.entity_id.in_(ids)))
        return {(c.entity_id, c.field): c for c in rows}


async def _pass(relais: Relais, conf: Settings, at: datetime) -> LinkCheckSummary:
    async with make_client(conf, transport=LocalOnly()) as client:
        return await check_links(relais.app("directory").state.db, conf, client=client, now=at)


async def test_dead_after_three_failures_over_two_days_and_reset_on_success(
    relais: Relais, server: Server
) -> None:
    db = relais.app("directory").state.db
    structure_id, service_id = await _entities(relais, server)
    conf = settings()
    website = (structure_id, "website")
    booking = (service_id, "appointment_url")
    referral = (service_id, "referral_url")
    start = utcnow()

    # Three failed passes within an hour (someone re-running the command): failing, not dead.
    for run, at in enumerate([start, start + timedelta(minutes=20), start + timedelta(hours=1)]):
        await _pass(relais, conf, at)
        checks = await _checks(relais, structure_id, service_id)
        assert checks[website].consecutive_failures == run + 1
        assert checks[website].failing_since == start
        assert checks[website].last_status == 500
        assert checks[website].last_error == "http_500"
        assert not checks[website].dead
        assert checks[booking].last_error == "dns_error"
        assert checks[referral].last_status == 200
        assert checks[referral].last_ok_at is not None
    await _pass(relais, conf, start + timedelta(days=1))
    assert not (await _checks(relais, structure_id, service_id))[website].dead
    # Two days after the first failure, still failing: dead.
    summary = await _pass(relais, conf, start + DEAD_AFTER_SPAN)
    checks = await _checks(relais, structure_id, service_id)
    assert checks[website].dead
    assert checks[booking].dead
    assert not checks[referral].dead
    assert summary.newly_dead >= 2

    server.flaky_status = 200
    summary = await _pass(relais, conf, start + timedelta(days=3))
    checks = await _checks(relais, structure_id, service_id)
    assert checks[website].consecutive_failures == 0
    assert checks[website].failing_since is None
    assert not checks[website].dead
    assert checks[website].last_ok_at is not None
    assert checks[booking].dead
    assert summary.revived >= 1

    # A changed URL starts a fresh history; a removed link loses its record.
    async with db.session() as session:
        service = await session.get(Service, service_id)
        assert service is not None
        service.appointment_url = server.url("/ok")
        service.referral_url = None
    await _pass(relais, conf, start + timedelta(days=4))
    checks = await _checks(relais, structure_id, service_id)
    assert not checks[booking].dead
    assert checks[booking].consecutive_failures == 0
    assert referral not in checks


async def test_a_pass_where_nothing_answers_is_not_recorded(relais: Relais) -> None:
    """An offline machine: every probe fails before any HTTP answer."""
    tag = uuid.uuid4().hex[:8]
    async with relais.app("directory").state.db.session() as session:
        structure = Structure(
            name=f"Structure hors ligne {tag}",
            source="test-linkcheck",
            source_id=f"offline-{tag}",
            status="published",
            website=f"https://{tag}.example.org/",
        )
        session.add(structure)
    conf = settings()
    offline = httpx.MockTransport(lambda request: _unreachable(request))
    async with make_client(conf, transport=offline) as client:
        summary = await check_links(relais.app("directory").state.db, conf, client=client)
    assert summary.offline
    assert summary.failed == 0
    assert (structure.id, "website") not in await _checks(relais, structure.id)


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)


async def test_a_failing_link_is_shown_failing_only_to_insiders(
    relais: Relais, server: Server
) -> None:
    structure_id, service_id = await _entities(relais, server)
    conf = settings()
    start = utcnow()
    server.flaky_status = 200
    await _pass(relais, conf, start - timedelta(days=1))
    server.flaky_status = 500
    await _pass(relais, conf, start)

    def website(body: dict[str, Any]) -> dict[str, Any]:
        [link] = [x for x in body["links"] if x["field"] == "website"]
        return link

    def booking(body: dict[str, Any]) -> dict[str, Any]:
        [link] = [x for x in body["links"] if x["field"] == "appointment_url"]
        return link

    path = f"/directory/v1/structures/{structure_id}"
    public = (await relais.client.get(path)).json()
    assert website(public)["state"] == "ok"
    assert website(public)["http_status"] is None
    insiders = [member(relais.tokens, str(structure_id)), moderator(relais.tokens)]
    for headers in insiders:
        seen = (await relais.client.get(path, headers=headers)).json()
        assert website(seen)["state"] == "failing"
        assert website(seen)["http_status"] == 500
    outsider = member(relais.tokens, str(uuid.uuid4()))
    assert website((await relais.client.get(path, headers=outsider)).json())["state"] == "ok"

    # A link that never worked is "unchecked" for outsiders, in lists as in reads.
    service_path = f"/directory/v1/services/{service_id}"
    assert booking((await relais.client.get(service_path)).json())["state"] == "unchecked"
    listed = await relais.client.get(
        "/directory/v1/services", params={"structure_id": str(structure_id)}
    )
    [item] = listed.json()["items"]
    assert booking(item)["state"] == "unchecked"
    seen = (await relais.client.get(service_path, headers=insiders[0])).json()
    assert booking(seen)["state"] == "failing"

    # Dead is public.
    await _pass(relais, conf, start + timedelta(days=1))
    await _pass(relais, conf, start + DEAD_AFTER_SPAN)
    assert website((await relais.client.get(path)).json())["state"] == "dead"


async def test_worker_declares_a_daily_link_check() -> None:
    (job,) = [j for j in worker.JOBS if j.name == "directory.check-links"]
    assert job.queue == "directory"
    assert job.interval_seconds == 24 * 3600
    assert job.first_delay_seconds == 24 * 3600
