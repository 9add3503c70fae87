"""`relais serve` on one machine: links and tokens name the address it serves, and it runs the
background jobs itself — on SQLite and on PostgreSQL — unless WORKER_ENABLED=false, saying at
start which jobs run where."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import POSTGRES_URL, free_port, require_postgres
from tests.deploy.test_multiprocess import START_TIMEOUT, Topology, drop_schemas


def _env(folder: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RELAIS_", "DATABASE_", "JWT_", "WORKER_"))
    }
    return {**env, "RELAIS_HOME": str(folder / "var"), "LOG_LEVEL": "INFO", **extra}


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    top = Topology(tmp_path, "", _env(tmp_path), {"serve": free_port()})
    try:
        yield top
    finally:
        top.stop_all()


def test_the_address_served_is_the_one_links_and_tokens_name(topology: Topology) -> None:
    port = topology.ports["serve"]
    topology.start("serve", "serve", "auth", "directory", "--port", str(port))
    topology.wait_ready("serve")
    discovery = httpx.get(f"{topology.url('serve')}/auth/.well-known/openid-configuration").json()
    assert discovery["issuer"] == f"http://127.0.0.1:{port}/auth"
    assert discovery["token_endpoint"].startswith(f"http://127.0.0.1:{port}/auth/")
    # The embedded worker says which jobs it runs.
    assert _jobs_said(topology, "relais serve (this process)")


async def test_serve_on_postgresql_runs_the_jobs_unless_told_not_to(topology: Topology) -> None:
    await require_postgres()
    prefix = f"s{uuid.uuid4().hex[:8]}_"
    topology.env.update(DATABASE_URL=POSTGRES_URL, DATABASE_SCHEMA_PREFIX=prefix)
    try:
        topology.run("migrate", "directory", "referrals")
        topology.start(
            "serve", "serve", "directory", "referrals", "--port", str(topology.ports["serve"])
        )
        topology.wait_ready("serve")
        await _until_a_job_ran(prefix, topology)
        assert _jobs_said(topology, "relais serve (this process)")
        topology.stop_all()
        topology.env["WORKER_ENABLED"] = "false"
        (topology.folder / "serve.log").unlink()
        topology.start(
            "serve", "serve", "directory", "referrals", "--port", str(topology.ports["serve"])
        )
        topology.wait_ready("serve")
        assert _jobs_said(topology, "relais worker (WORKER_ENABLED=false)") == []
    finally:
        topology.stop_all()
        await drop_schemas(prefix)


async def _until_a_job_ran(prefix: str, top: Topology) -> None:
    """Some job of the referrals service ran under its lease (the server's own worker: no
    `relais worker` runs here)."""
    deadline = time.monotonic() + START_TIMEOUT
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        while time.monotonic() < deadline:
            ran = await conn.fetchval(
                f'SELECT count(*) FROM "{prefix}referrals".kernel_job_leases WHERE runs > 0'
            )
            if ran:
                return
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    raise AssertionError(f"no job ran after {START_TIMEOUT}s:\n{top.log('serve')}")


def _jobs_said(top: Topology, where: str) -> list[str] | None:
    """The jobs the server's start-up log says run at ``where`` (None: not said)."""
    for line in (top.folder / "serve.log").read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "background_jobs" and entry.get("where") == where:
            jobs: list[str] = entry["jobs"]
            return jobs
    return None
