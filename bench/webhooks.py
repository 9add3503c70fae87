"""Webhooks benchmark: deliveries per second to a local receiver, and the delay from a transition
to its delivery.

Everything runs in one process: the whole system (PostgreSQL when reachable, else SQLite; force
with BENCH_BACKEND=sqlite|postgresql), a real HTTP receiver on a localhost port, and the API
driven through the in-process ASGI transport.

1. Throughput. BENCH_WEBHOOK_REFERRALS referrals (default 150) get three transitions each
   (4 events, all seen by the subscribed partner). The outbox is then fanned out, and the
   deliveries are sent by ``webhooks.delivery.deliver`` (16 at a time, in order per referral,
   signed, logged). Baseline of the same run: the same number of POSTs of the same bodies,
   straight to the receiver with the same HTTP client and concurrency (no database, no signing).
2. End-to-end delay. The kernel Worker runs the referrals' outbox and webhook jobs, as
   ``relais worker`` does (poll every WORKER_POLL_SECONDS, default 1 s; BENCH_POLL overrides).
   A driver makes a transition every 50 ms for BENCH_SECONDS (default 10). Delay = arrival at the
   receiver minus the event time. Prints p50/p99.

Run: ``.venv/bin/python -m bench webhooks``. Bounded: each phase stops after BENCH_MAX_SECONDS
(default 60). The PostgreSQL schemas it creates are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import free_port, quantile
from services import system
from services.kernel.jobs import Worker
from services.kernel.settings import Settings, load_settings
from services.referrals import models as m
from services.referrals import worker as referrals_worker
from services.referrals.webhooks import delivery
from tests.tokens import ISSUER, TokenFactory, bearer

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REFERRALS = int(os.environ.get("BENCH_WEBHOOK_REFERRALS", "150"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
MAX_SECONDS = float(os.environ.get("BENCH_MAX_SECONDS", "60"))
CONCURRENCY = 16
THEMATIQUE = "logement-hebergement--se-maintenir-dans-le-logement"


class Receiver:
    """Minimal HTTP/1.1 keep-alive server: records arrival time per webhook-id."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: dict[str, float] = {}
        self.bodies: dict[str, bytes] = {}
        self.requests = 0
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline():
                headers: dict[str, str] = {}
                while (raw := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                msg_id = headers.get("webhook-id")
                if msg_id and msg_id not in self.arrivals:
                    self.arrivals[msg_id] = time.time()
                    self.bodies[msg_id] = body
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _available() -> bool:
    engine = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


async def _drop(prefix: str) -> None:
    engine = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.begin() as conn:
            for name in system.SERVICE_NAMES:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{prefix}{name}" CASCADE'))
    finally:
        await engine.dispose()


def _body(target: uuid.UUID, i: int) -> dict[str, Any]:
    return {
        "person": {"first_name": "Personne", "last_name": f"Banc-{i}"},
        "need": {"thematiques": [THEMATIQUE], "channel": "walk_in"},
        "consent": {
            "given_by": "person",
            "method": "oral",
            "purpose": "Banc d'essai",
            "data_categories": ["identity"],
            "recipients": [str(target)],
        },
        "target": {"structure_id": str(target)},
    }


class Bench:
    def __init__(self, settings: Settings, tokens: TokenFactory, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.tokens = tokens
        self.client = client
        self.sender_h: dict[str, str] = {}
        self.receiver_h: dict[str, str] = {}
        self.receiver_id = uuid.uuid4()
        self.count = 0

    async def setup(self, url: str) -> None:
        moderator = bearer(self.tokens.user(uuid.uuid4(), ("moderator",)))
        ids = []
        for name in ("CCAS du banc", "Partenaire du banc"):
            response = await self.client.post(
                "/directory/v1/structures",
                json={"name": name, "status": "published", "accepts_referrals": True},
                headers=moderator,
            )
            response.raise_for_status()
            ids.append(uuid.UUID(response.json()["id"]))
        sender, self.receiver_id = ids
        self.sender_h = bearer(self.tokens.user(sender, ("member",)))
        self.receiver_h = bearer(self.tokens.user(self.receiver_id, ("admin",)))
        response = await self.client.post(
            "/referrals/v1/webhooks", json={"url": url}, headers=self.receiver_h
        )
        response.raise_for_status()

    async def create(self) -> dict[str, Any]:
        self.count += 1
        response = await self.client.post(
            "/referrals/v1/referrals",
            json=_body(self.receiver_id, self.count),
            headers=self.sender_h,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def act(
        self, referral: dict[str, Any], handoff: dict[str, Any], action: str
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"/referrals/v1/referrals/{referral['id']}/handoffs/{handoff['id']}/{action}",
            headers={**self.receiver_h, "If-Match": f'"{handoff["version"]}"'},
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


async def _baseline(url: str, bodies: list[bytes]) -> float:
    """The same POSTs straight to the receiver, same client settings and concurrency."""
    semaphore = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(
        timeout=10, limits=httpx.Limits(max_connections=32, max_keepalive_connections=16)
    ) as http:

        async def one(i: int, body: bytes) -> None:
            async with semaphore:
                response = await http.post(
                    url,
                    content=body,
                    headers={"webhook-id": f"base_{i}", "content-type": "application/json"},
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
        return time.perf_counter() - started


async def run(backend: str) -> None:
    tokens = TokenFactory()
    home = Path(tempfile.mkdtemp(prefix="relais-bench-webhooks-"))
    overrides: dict[str, Any] = {
        "home": home,
        "jwt_jwks": tokens.jwks,
        "log_level": "WARNING",
        "worker_enabled": False,
        "base_url": "http://bench",
        "jwt_issuer": ISSUER,  # what the test tokens carry (the default follows base_url)
        "webhook_allow_private": True,
    }
    if os.environ.get("BENCH_POLL"):
        overrides["worker_poll_seconds"] = float(os.environ["BENCH_POLL"])
    if backend == "postgresql":
        overrides["database_url"] = POSTGRES_URL
        overrides["database_schema_prefix"] = f"bw{uuid.uuid4().hex[:8]}_"
    settings = load_settings(environ={}, **overrides)
    receiver = Receiver()
    await receiver.start()
    await system.migrate(settings)
    gateway = system.create_gateway(settings)
    async with AsyncExitStack() as stack:
        if backend == "postgresql":
            stack.push_async_callback(_drop, settings.database_schema_prefix)
        for app in gateway.apps.values():
            await stack.enter_async_context(app.lifespan())
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://bench")
        )
        app = gateway.apps["referrals"]
        bench = Bench(settings, tokens, client)
        await bench.setup(receiver.url)

        # ---- 1. throughput ------------------------------------------------------------------
        for _ in range(REFERRALS):
            referral = await bench.create()
            handoff = referral["handoffs"][0]
            handoff = await bench.act(referral, handoff, "acknowledge")
            await bench.act(referral, handoff, "accept")
        expected = REFERRALS * 4
        started = time.perf_counter()
        fanned = 0
        while (handled := await delivery.dispatch(app.state.db, settings)) > 0:
            fanned += handled
        fanout = time.perf_counter() - started
        started = time.perf_counter()
        deadline = time.monotonic() + MAX_SECONDS
        while len(receiver.arrivals) < expected and time.monotonic() < deadline:
            await delivery.deliver(
                app.state.db, app.state.keyring.get(), settings, budget_seconds=MAX_SECONDS
            )
        elapsed = time.perf_counter() - started
        delivered = len(receiver.arrivals)
        async with app.state.db.session() as session:
            attempts = await session.scalar(
                sa.select(sa.func.count()).select_from(m.WebhookAttempt)
            )
        bodies = list(receiver.bodies.values())
        base = await _baseline(receiver.url, bodies)
        print(f"  backend: {backend}", flush=True)
        print(f"  fan-out: {fanned} outbox rows in {fanout:.2f} s ({fanned / fanout:.0f} rows/s)")
        rate = delivered / elapsed
        print(
            f"  deliveries: {delivered}/{expected} in {elapsed:.2f} s = {rate:.0f}/s "
            f"({attempts} attempts logged)"
        )
        print(
            f"  baseline (same POSTs, no database): {len(bodies) / base:.0f}/s; "
            f"ratio {(delivered / elapsed) / (len(bodies) / base):.2f}"
        )

        # ---- 2. end-to-end delay -------------------------------------------------------------
        jobs = [
            (job, app)
            for job in referrals_worker.JOBS
            if job.name in ("referrals.dispatch-outbox", "referrals.deliver-webhooks")
        ]
        runner = Worker(
            jobs,
            poll_seconds=settings.worker_poll_seconds,
            concurrency=settings.worker_concurrency,
            lease_seconds=settings.worker_lease_seconds,
            grace_seconds=5,
        )
        stop = asyncio.Event()
        worker_task = asyncio.create_task(runner.run(stop))
        known = set(receiver.arrivals)
        produced = 0
        end = time.monotonic() + min(SECONDS, MAX_SECONDS)
        while time.monotonic() < end:
            await bench.create()
            produced += 2
            await asyncio.sleep(0.05)
        for _ in range(int(MAX_SECONDS * 10)):  # bounded wait for the last deliveries
            if len(receiver.arrivals) - len(known) >= produced:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await worker_task
        delays = []
        for msg_id, arrived in receiver.arrivals.items():
            if msg_id in known:
                continue
            sent = msgspec.json.decode(receiver.bodies[msg_id])["timestamp"]
            delays.append(arrived - datetime.fromisoformat(sent).timestamp())
        print(
            f"  end-to-end (worker poll {settings.worker_poll_seconds:g} s, job interval 1 s): "
            f"{len(delays)}/{produced} events, p50 {statistics.median(delays) * 1000:.0f} ms, "
            f"p99 {quantile(delays, 0.99) * 1000:.0f} ms"
        )
    await receiver.stop()


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    backend = os.environ.get("BENCH_BACKEND")
    if backend is None:
        backend = "postgresql" if asyncio.run(_available()) else "sqlite"
    asyncio.run(run(backend))


if __name__ == "__main__":
    main()
