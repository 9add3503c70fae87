"""Job leases: one run at a time across workers, takeover after a dead worker, graceful drain.

Runs on SQLite and PostgreSQL against a scratch database of its own (not the shared system), so
it does not depend on any service's jobs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from services.kernel import jobs
from services.kernel.clock import utcnow
from services.kernel.db import Database
from services.kernel.jobs import Job, Worker, leases
from services.kernel.migrations import upgrade
from services.kernel.settings import load_settings
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, _postgres_available


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "postgresql":
        if not await _postgres_available():
            if REQUIRE_POSTGRES:
                pytest.fail("PostgreSQL not reachable", pytrace=False)
            pytest.skip("PostgreSQL not reachable")
        prefix = f"t{uuid.uuid4().hex[:8]}_"
        settings = load_settings(
            environ={}, database_url=POSTGRES_URL, database_schema_prefix=prefix, home=tmp_path
        )
    else:
        settings = load_settings(environ={}, home=tmp_path)
    database = Database(settings, "jobtest")
    await upgrade(database, jobs.MIGRATIONS)
    try:
        yield database
    finally:
        if database.is_postgres:
            async with database.engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE'))
        await database.dispose()


def context(db: Database) -> Any:
    return SimpleNamespace(state=SimpleNamespace(db=db))


async def lease_row(db: Database, name: str) -> Any:
    async with db.session() as session:
        result = await session.execute(sa.select(leases).where(leases.c.name == name))
        return result.one_or_none()


async def run_until(worker: Worker, condition: Any) -> None:
    """Run ``worker`` until ``condition()`` holds (20 s at most), then stop it and let it drain."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(20):
            while True:
                if await condition():
                    break
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)


async def test_one_run_at_a_time_across_workers(db: Database) -> None:
    started: list[str] = []
    release, began = asyncio.Event(), asyncio.Event()

    async def slow(_: Any) -> int:
        started.append("run")
        began.set()
        await release.wait()
        return 1

    job = Job("slow", "default", 3600, slow)
    workers = [
        Worker([(job, context(db))], poll_seconds=0.01, lease_seconds=5, owner=f"w{i}")
        for i in range(4)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    await asyncio.wait_for(began.wait(), timeout=20)
    # every worker polls many times while the first one holds the lease
    for _ in range(30):
        await asyncio.sleep(0.01)
    release.set()
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=20)
    assert started == ["run"]
    row = await lease_row(db, "slow")
    assert row.owner is None
    assert row.leased_until is None
    assert row.last_status == "ok"
    assert row.runs == 1
    assert row.next_run_at > utcnow() + timedelta(seconds=3000)


async def test_expired_lease_of_a_dead_worker_is_taken_over(db: Database) -> None:
    runs: list[str] = []

    async def work(_: Any) -> int:
        runs.append("x")
        return 0

    past = utcnow() - timedelta(seconds=5)
    future = utcnow() + timedelta(seconds=600)
    async with db.session() as session:
        await session.execute(
            leases.insert(),
            [
                {"name": "orphan", "queue": "q", "owner": "dead", "leased_until": past,
                 "next_run_at": past, "runs": 1},
                {"name": "held", "queue": "q", "owner": "alive", "leased_until": future,
                 "next_run_at": past, "runs": 1},
            ],
        )  # fmt: skip
    held_runs: list[str] = []

    async def held(_: Any) -> int:
        held_runs.append("x")
        return 0

    worker = Worker(
        [
            (Job("orphan", "q", 3600, work), context(db)),
            (Job("held", "q", 3600, held), context(db)),
        ],
        poll_seconds=0.01,
        owner="rescuer",
    )

    async def orphan_done() -> bool:
        row = await lease_row(db, "orphan")
        return row is not None and row.last_status == "ok"

    await run_until(worker, orphan_done)
    assert runs == ["x"]
    assert held_runs == []  # a live lease is respected
    assert (await lease_row(db, "held")).owner == "alive"


async def test_sigterm_lets_running_jobs_finish(db: Database) -> None:
    began = asyncio.Event()
    finished: list[bool] = []

    async def work(_: Any) -> int:
        began.set()
        await asyncio.sleep(0.3)
        finished.append(True)
        return 3

    worker = Worker([(Job("finish-me", "q", 3600, work), context(db))], poll_seconds=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(began.wait(), timeout=20)
    stop.set()  # what the SIGTERM handler does
    await asyncio.wait_for(task, timeout=20)
    assert finished == [True]
    assert (await lease_row(db, "finish-me")).last_status == "ok"


async def test_jobs_past_the_grace_period_are_cancelled_and_released(db: Database) -> None:
    began = asyncio.Event()

    async def stuck(_: Any) -> int:
        began.set()
        await asyncio.sleep(3600)
        return 0

    worker = Worker(
        [(Job("stuck", "q", 3600, stuck), context(db))], poll_seconds=0.01, grace_seconds=0.1
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(began.wait(), timeout=20)
    stop.set()
    await asyncio.wait_for(task, timeout=20)
    row = await lease_row(db, "stuck")
    assert row.last_status == "cancelled"
    assert row.owner is None
    assert row.next_run_at <= utcnow()  # another worker picks it up at once


async def test_a_worker_that_lost_its_lease_stops_the_run(db: Database) -> None:
    began, cancelled = asyncio.Event(), asyncio.Event()

    async def long(_: Any) -> int:
        began.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0

    worker = Worker(
        [(Job("long", "q", 3600, long), context(db))],
        poll_seconds=0.01,
        lease_seconds=0.3,
        owner="slowpoke",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(began.wait(), timeout=20)
    async with db.session() as session:  # as if another worker had taken it over
        await session.execute(leases.update().values(owner="other"))
    await asyncio.wait_for(cancelled.wait(), timeout=20)
    stop.set()
    await asyncio.wait_for(task, timeout=20)
    assert (await lease_row(db, "long")).owner == "other"


async def test_a_failing_job_is_recorded_and_retried_later(db: Database) -> None:
    async def broken(_: Any) -> int:
        raise RuntimeError("boom")

    worker = Worker([(Job("broken", "q", 60, broken), context(db))], poll_seconds=0.01)

    async def failed() -> bool:
        row = await lease_row(db, "broken")
        return row is not None and row.last_status == "failed"

    await run_until(worker, failed)
    row = await lease_row(db, "broken")
    assert row.last_error == "RuntimeError"
    assert row.next_run_at > utcnow() + timedelta(seconds=30)


async def test_queue_age_and_outbox_lag_are_sampled(db: Database) -> None:
    async with db.session() as session:
        await session.execute(
            sa.text("CREATE TABLE outbox (id INTEGER PRIMARY KEY, created_at TIMESTAMP WITH TIME"
                    " ZONE, processed_at TIMESTAMP WITH TIME ZONE)")
        )  # fmt: skip
        await session.execute(
            sa.text("INSERT INTO outbox (id, created_at) VALUES (1, :at)"),
            {"at": utcnow() - timedelta(seconds=120)},
        )
    worker = Worker([], databases=[db])
    await worker.sample()
    assert jobs.OUTBOX_PENDING.labels("jobtest")._value.get() == 1
    assert jobs.OUTBOX_LAG.labels("jobtest")._value.get() >= 119


async def test_a_new_job_waits_its_first_delay_and_keeps_its_schedule(db: Database) -> None:
    runs: list[str] = []

    async def job(_: Any) -> int:
        runs.append("ran")
        return 1

    later = Job("later", "q", 60, job, first_delay_seconds=3600)
    now = Job("now", "q", 60, job)
    for _ in range(2):  # a restarted worker finds the same schedule
        worker = Worker([(later, context(db)), (now, context(db))], poll_seconds=0.01)

        async def ran_now() -> bool:
            row = await lease_row(db, "now")
            return row is not None and row.last_status == "ok"

        await run_until(worker, ran_now)
        row = await lease_row(db, "later")
        assert row.runs == 0
        assert row.next_run_at > utcnow() + timedelta(minutes=55)


async def test_a_job_without_a_database_waits_its_first_delay_too() -> None:
    async def job(_: Any) -> int:
        return 1

    local = Job("local", "q", 60, job, first_delay_seconds=3600)
    worker = Worker([(local, SimpleNamespace())], poll_seconds=0.01)
    await worker._tick()
    assert worker.running == {}
