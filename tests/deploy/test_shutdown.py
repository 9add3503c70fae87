"""Graceful shutdown inside one process: the embedded worker and the gateway's lifespan.

A job in progress when `relais serve` (embedded mode) shuts down finishes, its lease is released,
and only then are the services' pools disposed; the process-level behaviour (SIGTERM, readiness,
exit code) is covered by tests/deploy/test_multiprocess.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services import system
from services.gateway import Gateway
from services.kernel import lifecycle
from services.kernel.db import Database
from services.kernel.jobs import Job, Worker, leases
from services.kernel.settings import Settings
from tests.conftest import make_settings
from tests.tokens import TokenFactory

BOUND = 120  # seconds; only a bound on waits, never asserted


class FakeServer:
    """What the drain handler sees of uvicorn: its SIGTERM handler (a bound method) and flags."""

    def __init__(self) -> None:
        self.should_exit = False
        self._captured_signals: list[int] = []

    def handle_exit(self, sig: int, frame: object) -> None:  # uvicorn's: re-raised at the end
        self._captured_signals.append(sig)
        self.should_exit = True


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    previous = signal.signal(signal.SIGTERM, fake.handle_exit)
    try:
        yield fake
    finally:
        signal.signal(signal.SIGTERM, previous)
        lifecycle.reset()


async def _until(condition: Any) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, "bounded wait exceeded"
        await asyncio.sleep(0.01)


async def test_sigterm_drains_then_stops_the_server_without_its_signal(server: FakeServer) -> None:
    """The server is stopped by its flag, so it does not raise SIGTERM again after shutdown."""
    lifecycle.install_drain_handler(0.2)
    os.kill(os.getpid(), signal.SIGTERM)
    await _until(lifecycle.draining)
    await _until(lambda: server.should_exit)
    assert server._captured_signals == []


async def test_a_second_sigterm_stops_the_server_at_once(server: FakeServer) -> None:
    lifecycle.install_drain_handler(BOUND * 10)
    os.kill(os.getpid(), signal.SIGTERM)
    await _until(lifecycle.draining)
    assert not server.should_exit
    os.kill(os.getpid(), signal.SIGTERM)
    await _until(lambda: server.should_exit)
    assert server._captured_signals == []


async def test_a_sigterm_caught_during_the_import_is_not_raised_again(server: FakeServer) -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # reaches the server's own handler (app not built yet)
    await _until(lambda: server.should_exit)
    lifecycle.install_drain_handler(1.0)
    assert server._captured_signals == []


async def test_embedded_worker_finishes_its_job_before_any_pool_is_disposed(
    tmp_path: Path, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(
        "sqlite", tmp_path, tokens, worker_poll_seconds=0.05, shutdown_grace_seconds=BOUND
    )
    await system.migrate(settings)
    apps, _ = system.build_apps(settings)
    events: list[str] = []
    started, release, stopping = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow(_: Any) -> int:
        events.append("job started")
        started.set()
        await release.wait()
        events.append("job finished")
        return 1

    job = Job("test.slow", "test", 3600.0, slow)
    monkeypatch.setattr(system, "service_jobs", lambda *_: [(job, apps["referrals"])])
    for name, app in apps.items():
        db: Database = app.state.db
        monkeypatch.setattr(db, "dispose", _recording(db.dispose, events, name, stopping))
    drain = Worker.drain

    async def recorded_drain(self: Worker) -> None:
        events.append("worker draining")
        stopping.set()
        await drain(self)

    monkeypatch.setattr(Worker, "drain", recorded_drain)
    system.attach_worker(apps, settings)
    gateway = Gateway(apps)

    inbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    lifespan = asyncio.create_task(gateway({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await asyncio.wait_for(outbox.get(), BOUND))["type"] == "lifespan.startup.complete"
    await asyncio.wait_for(started.wait(), BOUND)

    await inbox.put({"type": "lifespan.shutdown"})
    # The job is still running when the shutdown reaches the worker (or, wrongly, a pool).
    await asyncio.wait_for(stopping.wait(), BOUND)
    release.set()
    assert (await asyncio.wait_for(outbox.get(), BOUND))["type"] == "lifespan.shutdown.complete"
    await asyncio.wait_for(lifespan, BOUND)

    disposed = [e for e in events if e.startswith("dispose")]
    assert events[:3] == ["job started", "worker draining", "job finished"], events
    assert sorted(disposed) == sorted(f"dispose {n}" for n in system.SERVICE_NAMES), events
    assert await _lease(settings, job.name) == ("ok", None)


def _recording(dispose: Any, events: list[str], name: str, stopping: asyncio.Event) -> Any:
    async def recorded() -> None:
        events.append(f"dispose {name}")
        stopping.set()
        await dispose()

    return recorded


async def _lease(settings: Settings, name: str) -> tuple[str | None, str | None]:
    db = Database(settings, "referrals")
    try:
        async with db.session() as session:
            row = (
                await session.execute(
                    sa.select(leases.c.last_status, leases.c.owner).where(leases.c.name == name)
                )
            ).one()
        return row[0], row[1]
    finally:
        await db.dispose()
