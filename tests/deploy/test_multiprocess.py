"""The production topology on one machine: each service and two workers as separate processes.

`relais serve directory`, `relais serve referrals`, `relais serve auth` and two `relais worker`
run on their own ports against PostgreSQL, configured only through environment variables, as in
Kubernetes: services reach each other over HTTP (DIRECTORY_URL…), verify tokens against the auth
process's JWKS (JWT_JWKS_URL), and the workers coordinate through job leases. The referral
scenario runs over real HTTP; then SIGTERM drains a worker and a server while a job and a request
are in flight (readiness off, the work finishes, shutdown hooks complete, exit 0).

Every subprocess is bounded by timeouts and killed at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, _postgres_available, free_port
from tests.directory.helpers import service_body, structure_body
from tests.e2e.test_auth_e2e import _moderator_token
from tests.referrals.conftest import THEMATIQUE, referral_body

pytestmark = pytest.mark.slow
RELAIS = Path(sys.executable).with_name("relais")
START_TIMEOUT = 180  # imports are slow on a loaded 2-core machine
SERVICES = ("auth", "directory", "referrals")


@dataclass
class Topology:
    folder: Path
    prefix: str
    env: dict[str, str]
    ports: dict[str, int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str, *args: str) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [str(RELAIS), *args],
            cwd=self.folder,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-4000:]

    def wait_ready(self, name: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise AssertionError(f"{name} exited {process.returncode}:\n{self.log(name)}")
            try:
                if httpx.get(f"{self.url(name)}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{name} not ready after {START_TIMEOUT}s:\n{self.log(name)}")

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [str(RELAIS), *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        return result.stdout


async def drop_schemas(prefix: str) -> None:
    engine = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.begin() as conn:
            for name in SERVICES:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{prefix}{name}" CASCADE'))
    finally:
        await engine.dispose()


class TableLock:
    """ACCESS EXCLUSIVE lock on a table until released: whatever reads it waits (in flight)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.conn: AsyncConnection | None = None
        self.engine = create_async_engine(
            POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://")
        )

    async def __aenter__(self) -> TableLock:
        self.conn = await self.engine.connect()
        await self.conn.execute(sa.text(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE"))
        return self

    async def waiters(self) -> int:
        """Backends waiting for this lock (a request or a job blocked on the table)."""
        async with self.engine.connect() as conn:
            count = await conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted"
                    f" AND relation = '{self.table}'::regclass"
                )
            )
        return int(count or 0)

    async def wait_for_waiter(self) -> None:
        deadline = time.monotonic() + 60
        while await self.waiters() == 0:
            assert time.monotonic() < deadline, f"nothing waits on {self.table}"
            await asyncio.sleep(0.1)

    async def release(self) -> None:
        if self.conn is not None:
            await self.conn.rollback()
            await self.conn.close()
            self.conn = None

    async def __aexit__(self, *_: object) -> None:
        await self.release()
        await self.engine.dispose()


async def execute(sql: str) -> None:
    engine = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(sql))
    finally:
        await engine.dispose()


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


async def query(sql: str) -> list[Any]:
    engine = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(sa.text(sql))).all())
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    if not asyncio.run(_postgres_available()):
        if REQUIRE_POSTGRES:
            pytest.fail("PostgreSQL not reachable", pytrace=False)
        pytest.skip("PostgreSQL not reachable")
    folder = tmp_path_factory.mktemp("topology")
    (folder / "var").mkdir()
    prefix = f"mp{uuid.uuid4().hex[:8]}_"
    ports = {name: free_port() for name in (*SERVICES, "worker-1", "worker-2")}
    auth = f"http://127.0.0.1:{ports['auth']}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("RELAIS_", "DATABASE_", "JWT_", "AUTH_", "DIRECTORY_", "REFERRALS_", "WORKER_")
        )
    }
    env.update(
        DATABASE_URL=POSTGRES_URL,
        DATABASE_SCHEMA_PREFIX=prefix,
        DATABASE_POOL_SIZE="3",
        DATABASE_MAX_OVERFLOW="2",
        RELAIS_HOME=str(folder / "var"),
        RELAIS_BASE_URL=auth,
        JWT_ISSUER=f"{auth}/auth",
        JWT_JWKS_URL=f"{auth}/auth/.well-known/jwks.json",
        DIRECTORY_URL=f"http://127.0.0.1:{ports['directory']}",
        REFERRALS_URL=f"http://127.0.0.1:{ports['referrals']}",
        AUTH_URL=auth,
        LOG_LEVEL="INFO",  # the shutdown markers are info lines
        # As in the production manifests: the servers serve, the two worker processes work.
        WORKER_ENABLED="false",
        WORKER_POLL_SECONDS="0.2",
        WORKER_LEASE_SECONDS="10",
        SHUTDOWN_DRAIN_SECONDS="2",
        SHUTDOWN_GRACE_SECONDS="20",
    )
    top = Topology(folder, prefix, env, ports)
    try:
        top.run("migrate")  # a separate step, as the Kubernetes Job does
        for name in SERVICES:
            # auth runs two server processes (uvicorn workers, metrics summed across them).
            workers = "2" if name == "auth" else "1"
            top.start(name, "serve", name, "--port", str(ports[name]), "--workers", workers)
        for name in ("worker-1", "worker-2"):
            top.start(name, "worker", "--metrics-port", str(ports[name]), "--host", "127.0.0.1")
        for name in (*SERVICES, "worker-1", "worker-2"):
            top.wait_ready(name)
        yield top
    finally:
        top.stop_all()
        asyncio.run(drop_schemas(prefix))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def client_token(top: Topology, http: httpx.AsyncClient, structure: str) -> dict[str, str]:
    created = await asyncio.to_thread(
        top.run,
        "create-client",
        "--structure",
        structure,
        "--scopes",
        "directory:read referrals:read referrals:write",
    )
    client = json.loads(created.strip().splitlines()[-1])
    token = await http.post(
        f"{top.url('auth')}/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_each_process_serves_only_its_service(
    topology: Topology, http: httpx.AsyncClient
) -> None:
    for name in SERVICES:
        ready = await http.get(f"{topology.url(name)}/readyz")
        assert ready.json()["services"] == {name: True}
        for other in SERVICES:
            if other != name:
                response = await http.get(f"{topology.url(name)}/{other}/docs/openapi.json")
                assert response.status_code == 404
    jwks = await http.get(f"{topology.url('auth')}/auth/.well-known/jwks.json")
    assert jwks.json()["keys"]
    metrics = await http.get(f"{topology.url('directory')}/metrics")
    assert 'relais_db_pool_connections_max{service="directory"} 5.0' in metrics.text
    # Two auth server processes, each with a pool of 3 + 2: capacity summed over both.
    metrics = await http.get(f"{topology.url('auth')}/metrics")
    assert 'relais_db_pool_connections_max{service="auth"} 10.0' in metrics.text


async def test_referral_scenario_across_processes(
    topology: Topology, http: httpx.AsyncClient
) -> None:
    directory, referrals = topology.url("directory"), topology.url("referrals")
    # A moderator logs in at the auth process and creates both structures in the directory
    # process, which verifies the token against the auth process's JWKS.
    email, app_id = await _setup_in(topology.env)
    async with httpx.AsyncClient(base_url=topology.url("auth"), timeout=30) as browser:
        moderator = {"Authorization": f"Bearer {await _moderator_token(browser, email, app_id)}"}
    ids = []
    for name in ("CCAS de Bourg", "Association logement"):
        body = {**structure_body(), "name": f"{name} {uuid.uuid4().hex[:6]}"}
        body["accepts_referrals"] = True
        body["status"] = "published"
        created = await http.post(
            f"{directory}/directory/v1/structures", json=body, headers=moderator
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    sender_id, receiver_id = ids
    service = {
        **service_body(receiver_id),
        "status": "published",
        "accepts_referrals": True,
        "capacity_status": "accepting",
        "thematiques": [THEMATIQUE],
    }
    made = await http.post(f"{directory}/directory/v1/services", json=service, headers=moderator)
    assert made.status_code == 201, made.text
    service_id = made.json()["id"]

    # Both partners use API clients (client_credentials at the auth process).
    sender = await client_token(topology, http, sender_id)
    receiver = await client_token(topology, http, receiver_id)

    # The referrals process validates the target by calling the directory process.
    body = referral_body(_Org(receiver_id))
    body["target"] = {"structure_id": receiver_id, "service_id": service_id}
    created = await http.post(f"{referrals}/referrals/v1/referrals", json=body, headers=sender)
    assert created.status_code == 201, created.text
    referral = created.json()
    rid, handoff = referral["id"], referral["handoffs"][0]
    assert handoff["state"] == "sent"
    assert handoff["to_service_name"] == service["name"]

    for action, state in (
        ("acknowledge", "acknowledged"),
        ("accept", "accepted"),
        ("take-over", "taken_over"),
    ):
        response = await http.post(
            f"{referrals}/referrals/v1/referrals/{rid}/handoffs/{handoff['id']}/{action}",
            json={},
            headers={**receiver, "If-Match": f'"{handoff["version"]}"'},
        )
        assert response.status_code == 200, response.text
        handoff = response.json()
        assert handoff["state"] == state
    for side in (sender, receiver):  # each side closes its part: the referral ends
        closed = await http.post(
            f"{referrals}/referrals/v1/referrals/{rid}/close",
            json={"outcome": "solution_found"},
            headers=side,
        )
        assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"

    # A worker process dispatches the referral's outbox: nothing is left pending.
    schema = f"{topology.prefix}referrals"
    deadline = time.monotonic() + 60
    pending: list[Any] = []
    while time.monotonic() < deadline:
        pending = await query(f'SELECT count(*) FROM "{schema}".outbox WHERE processed_at IS NULL')
        if pending[0][0] == 0:
            break
        await asyncio.sleep(0.5)
    assert pending[0][0] == 0, topology.log("worker-1") + topology.log("worker-2")
    leases = await query(
        f'SELECT name, runs, last_status FROM "{schema}".kernel_job_leases ORDER BY name'
    )
    by_name = {row[0]: row for row in leases}
    assert by_name["referrals.dispatch-outbox"][1] >= 1
    assert by_name["referrals.dispatch-outbox"][2] in {"ok", None}
    # Both workers are alive and expose their metrics.
    for name in ("worker-1", "worker-2"):
        metrics = await http.get(f"{topology.url(name)}/metrics")
        assert "relais_job_queue_age_seconds" in metrics.text
        assert "relais_outbox_lag_seconds" in metrics.text


async def test_sigterm_drains_a_server_then_it_shuts_down_gracefully(
    topology: Topology, http: httpx.AsyncClient
) -> None:
    """In-flight request answered after the server stopped accepting; hooks ran; exit 0."""
    process = topology.processes["directory"]
    port = topology.ports["directory"]
    url = topology.url("directory")
    async with (
        TableLock(f'"{topology.prefix}directory".structures') as lock,
        httpx.AsyncClient(timeout=120) as other,
    ):
        # A request in flight: it waits on the table lock until the test releases it.
        in_flight = asyncio.create_task(other.get(f"{url}/directory/v1/structures"))
        await lock.wait_for_waiter()
        process.send_signal(signal.SIGTERM)
        saw_draining = False
        deadline = time.monotonic() + 60
        while not saw_draining and process.poll() is None and time.monotonic() < deadline:
            try:
                ready = await http.get(f"{url}/readyz", timeout=5)
                if ready.status_code == 503 and ready.json()["status"] == "draining":
                    saw_draining = True
                    assert (await http.get(f"{url}/healthz", timeout=5)).status_code == 200
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
        assert saw_draining, topology.log("directory")
        # After the drain the server stops accepting connections; the request is still waiting.
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(accepts_connections, port):
            assert time.monotonic() < deadline, topology.log("directory")
            await asyncio.sleep(0.05)
        assert not in_flight.done()
        await lock.release()
        response = await in_flight
    assert response.status_code == 200, response.text
    # The shutdown hooks ran to their end (pools disposed), then the process exited normally.
    assert await asyncio.to_thread(process.wait, 60) == 0, topology.log("directory")
    log = topology.log("directory")
    assert '"event": "shutdown_complete"' in log, log
    assert "Application shutdown complete" in log, log
    assert f"Finished server process [{process.pid}]" in log, log


@dataclass
class _Org:
    id: str


async def _setup_in(env: dict[str, str]) -> tuple[str, str]:
    """The moderator account and staff app, written in the auth schema (like test_auth_e2e)."""
    from services.auth.crypto import hash_password
    from services.auth.models import Account
    from services.auth.store import clients
    from services.kernel.db import Database
    from services.kernel.settings import load_settings
    from tests.auth.helpers import REDIRECT_URI
    from tests.e2e.test_auth_e2e import PASSWORD

    settings = load_settings(environ=env)
    db = Database(settings, "auth")
    try:
        async with db.session() as session:
            account = Account(
                email=f"moderation-{uuid.uuid4().hex[:8]}@reseau.example.org",
                name="Modération",
                password_hash=hash_password(PASSWORD),
                status="active",
                email_verified=True,
                is_moderator=True,
            )
            session.add(account)
            app, _ = await clients.create_client(
                session,
                name="Application des agents",
                structure_id=None,
                scopes=["openid"],
                grant_types=["authorization_code"],
                redirect_uris=[REDIRECT_URI],
                public=True,
            )
            return account.email, app.client_id
    finally:
        await db.dispose()


async def test_sigterm_stops_a_worker_after_its_running_jobs(
    topology: Topology, http: httpx.AsyncClient
) -> None:
    """A job in progress at SIGTERM finishes; readiness 503 meanwhile; lease released; exit 0."""
    schema = f'"{topology.prefix}referrals"'
    job = "referrals.handoff-metrics"
    async with TableLock(f"{schema}.handoffs") as lock:
        # The job is due now; whichever worker claims it waits on the lock (a job in progress).
        await execute(
            f"UPDATE {schema}.kernel_job_leases SET next_run_at = now() - interval '1 second'"
            f" WHERE name = '{job}'"
        )
        await lock.wait_for_waiter()
        (owner,) = (
            await query(f"SELECT owner FROM {schema}.kernel_job_leases WHERE name = '{job}'")
        )[0]
        assert owner is not None
        name = next(
            n for n in ("worker-1", "worker-2") if f":{topology.processes[n].pid}:" in f"{owner}:"
        )
        process = topology.processes[name]
        process.send_signal(signal.SIGTERM)
        saw_draining = False
        deadline = time.monotonic() + 60
        while not saw_draining and time.monotonic() < deadline:
            assert process.poll() is None, "the worker left before its job finished"
            try:
                ready = await http.get(f"{topology.url(name)}/readyz", timeout=5)
                saw_draining = ready.status_code == 503
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
        assert saw_draining, topology.log(name)
        assert process.poll() is None, "the worker left before its job finished"
        await lock.release()
        assert await asyncio.to_thread(process.wait, 60) == 0, topology.log(name)
    (status, holder) = (
        await query(
            f"SELECT last_status, owner FROM {schema}.kernel_job_leases WHERE name = '{job}'"
        )
    )[0]
    assert (status, holder) == ("ok", None), topology.log(name)
    held = await query(
        f"SELECT name FROM {schema}.kernel_job_leases WHERE owner LIKE '%:{process.pid}:%'"
    )
    assert held == [], "a stopped worker releases its leases"
    assert f"worker {owner}: stopped" in topology.log(name)


async def test_sigterm_stops_every_process_of_a_multi_process_server(topology: Topology) -> None:
    """`--workers 2`: the parent forwards SIGTERM; each server process drains and shuts down."""
    process = topology.processes["auth"]
    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 90) == 0, topology.log("auth")
    log = (topology.folder / "auth.log").read_text(errors="replace")
    assert log.count('"event": "shutdown_complete"') == 2, log[-4000:]
    assert log.count("Finished server process") == 2, log[-4000:]
