"""Background jobs: periodic coroutines run by worker processes (inside `serve` when embedded).

Services declare ``JOBS: list[Job]`` in ``services/<svc>/worker.py``. Any number of worker
processes may run them; a **lease** row per job makes each run happen in one worker at a time:

- The lease table (``kernel_job_leases``) is kernel-owned but lives in **each service's own
  database** (its schema on PostgreSQL, its SQLite file when embedded), created by the kernel's
  own Alembic history (``services/kernel/jobs_migrations``, version table
  ``kernel_alembic_version``) that ``relais migrate`` applies to every service after the service's
  history. A service's jobs are coordinated only through its own database: no shared table, no
  cross-service reads, and a service moved to another database takes its leases along.
- A worker claims due jobs with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one
  writer at a time and uses the same conditional UPDATE), sets ``owner`` and ``leased_until``
  and commits before running, so claiming never holds a lock while the job runs.
- While the job runs its lease is renewed every third of ``WORKER_LEASE_SECONDS``; when a worker
  dies (OOM, node lost) the lease simply expires and another worker takes the job over. A worker
  that finds its lease taken over cancels its run.
- On SIGTERM a worker claims nothing more, lets running jobs finish for
  ``SHUTDOWN_GRACE_SECONDS``, then cancels the rest and releases their leases at once.

``Job.run(app)`` returns how many items it handled; work inside a job (outbox rows, deliveries)
is claimed with its own ``FOR UPDATE SKIP LOCKED`` queries (see ``outbox.claim_batch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite

from services.kernel.clock import utcnow
from services.kernel.db import Database, UTCDateTime
from services.kernel.observability import counter, gauge, histogram, metrics_payload

log = structlog.get_logger("relais.worker")

MIGRATIONS = Path(__file__).parent / "jobs_migrations"
LEASE_TABLE = "kernel_job_leases"

metadata = sa.MetaData()
leases = sa.Table(
    LEASE_TABLE,
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("queue", sa.String(100), nullable=False),
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("leased_until", UTCDateTime, nullable=True),
    sa.Column("next_run_at", UTCDateTime, nullable=False),
    sa.Column("last_started_at", UTCDateTime, nullable=True),
    sa.Column("last_finished_at", UTCDateTime, nullable=True),
    sa.Column("last_status", sa.String(20), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
)

JOB_RUNS = counter(
    "relais_job_runs_total",
    "Job runs by service, job and outcome (ok, failed, cancelled, lost)",
    ("service", "job", "outcome"),
)
JOB_ITEMS = counter("relais_job_items_total", "Items handled by job runs", ("service", "job"))
JOB_DURATION = histogram(
    "relais_job_duration_seconds",
    "Duration of job runs",
    ("service", "job"),
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
)
JOB_DELAY = gauge(
    "relais_job_start_delay_seconds",
    "How late the last run of a job started after it was due (queue age at claim)",
    ("service", "job", "queue"),
)
QUEUE_AGE = gauge(
    "relais_job_queue_age_seconds",
    "Age of the oldest due job not yet claimed, per queue (0 when none is waiting)",
    ("service", "queue"),
)
JOB_LAST_SUCCESS = gauge(
    "relais_job_last_success_timestamp_seconds",
    "Unix time of the last successful run of a job",
    ("service", "job"),
)
OUTBOX_PENDING = gauge(
    "relais_outbox_pending_events",
    "Outbox events not yet processed",
    ("service",),
)
OUTBOX_LAG = gauge(
    "relais_outbox_lag_seconds",
    "Age of the oldest unprocessed outbox event (0 when the outbox is empty)",
    ("service",),
)


@dataclass(frozen=True)
class Job:
    """A unit of background work. ``run`` returns how many items it handled.

    A new job is first due ``first_delay_seconds`` after a worker first sees it (its lease row
    is created then, once per database: restarts do not move it), then every
    ``interval_seconds`` after each run ends."""

    name: str
    queue: str
    interval_seconds: float
    run: Callable[[Any], Awaitable[int]]
    first_delay_seconds: float = 0.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class _Entry:
    job: Job
    context: Any
    service: str
    db: Database | None

    @property
    def key(self) -> tuple[str, str]:
        return self.service, self.job.name


def _entry(job: Job, context: Any) -> _Entry:
    state = getattr(context, "state", None)
    db = getattr(state, "db", None) if state is not None else None
    if not isinstance(db, Database):
        db = None
    service = db.service if db is not None else "-"
    return _Entry(job, context, service, db)


@dataclass
class Worker:
    """Runs jobs under leases until stopped; see the module docstring."""

    jobs: Sequence[tuple[Job, Any]]
    poll_seconds: float = 1.0
    concurrency: int = 4
    lease_seconds: float = 60.0
    grace_seconds: float = 30.0
    owner: str = field(default_factory=worker_id)
    sample_seconds: float = 15.0
    databases: Sequence[Database] = ()  # sampled for metrics even when they have no job

    def __post_init__(self) -> None:
        self.entries = [_entry(job, context) for job, context in self.jobs]
        self.running: dict[tuple[str, str], asyncio.Task[None]] = {}
        started = time.monotonic()
        self._local_next: dict[tuple[str, str], float] = {
            e.key: started + e.job.first_delay_seconds for e in self.entries if e.db is None
        }
        self._prepared: set[str] = set()
        self._next_sample = 0.0
        self.draining = False

    # ---- lease bookkeeping -------------------------------------------------------------------
    def _databases(self) -> dict[str, tuple[Database, list[_Entry]]]:
        groups: dict[str, tuple[Database, list[_Entry]]] = {}
        for entry in self.entries:
            if entry.db is not None:
                groups.setdefault(entry.service, (entry.db, []))[1].append(entry)
        return groups

    async def _prepare(self, db: Database, entries: list[_Entry]) -> None:
        """Make sure every job has its lease row (a new job is due after its first delay)."""
        if db.service in self._prepared:
            return
        now = utcnow()
        rows = [
            {
                "name": e.job.name,
                "queue": e.job.queue,
                "next_run_at": now + timedelta(seconds=e.job.first_delay_seconds),
                "runs": 0,
            }
            for e in entries
        ]
        dialect = postgresql if db.is_postgres else sqlite
        async with db.session() as session:
            await session.execute(dialect.insert(leases).values(rows).on_conflict_do_nothing())
        self._prepared.add(db.service)

    async def _claim(self, db: Database, entries: list[_Entry], limit: int) -> list[_Entry]:
        candidates = {e.job.name: e for e in entries if e.key not in self.running}
        if not candidates or limit <= 0:
            return []
        now = utcnow()
        due = sa.and_(
            leases.c.name.in_(list(candidates)),
            leases.c.next_run_at <= now,
            sa.or_(leases.c.leased_until.is_(None), leases.c.leased_until < now),
        )
        claimed: list[_Entry] = []
        async with db.session() as session:
            query = (
                sa.select(leases.c.name, leases.c.next_run_at)
                .where(due)
                .order_by(leases.c.next_run_at)
                .limit(limit)
            )
            if db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            for name, next_run_at in (await session.execute(query)).all():
                result = await session.execute(
                    leases.update()
                    .where(due, leases.c.name == name)
                    .values(
                        owner=self.owner,
                        leased_until=now + timedelta(seconds=self.lease_seconds),
                        last_started_at=now,
                        runs=leases.c.runs + 1,
                    )
                )
                if getattr(result, "rowcount", 0) == 1:
                    entry = candidates[name]
                    JOB_DELAY.labels(entry.service, name, entry.job.queue).set(
                        max((now - next_run_at).total_seconds(), 0.0)
                    )
                    claimed.append(entry)
        return claimed

    async def _renew(self, entry: _Entry) -> bool:
        assert entry.db is not None
        async with entry.db.session() as session:
            result = await session.execute(
                leases.update()
                .where(leases.c.name == entry.job.name, leases.c.owner == self.owner)
                .values(leased_until=utcnow() + timedelta(seconds=self.lease_seconds))
            )
        return getattr(result, "rowcount", 0) == 1

    async def _release(self, entry: _Entry, status: str, error: str | None, rerun: bool) -> None:
        assert entry.db is not None
        now = utcnow()
        next_run = now if rerun else now + timedelta(seconds=entry.job.interval_seconds)
        async with entry.db.session() as session:
            await session.execute(
                leases.update()
                .where(leases.c.name == entry.job.name, leases.c.owner == self.owner)
                .values(
                    owner=None,
                    leased_until=None,
                    next_run_at=next_run,
                    last_finished_at=now,
                    last_status=status,
                    last_error=error,
                )
            )

    # ---- running -----------------------------------------------------------------------------
    async def _execute(self, entry: _Entry) -> None:
        started = time.perf_counter()
        labels = (entry.service, entry.job.name)
        run: asyncio.Future[int] = asyncio.ensure_future(entry.job.run(entry.context))
        lost = False

        async def heartbeat() -> None:
            nonlocal lost
            while True:
                await asyncio.sleep(max(self.lease_seconds / 3, 0.05))
                try:
                    still_mine = await self._renew(entry)
                except Exception as exc:  # the database may be back before the lease ends
                    log.warning("lease_renew_failed", job=entry.job.name, error=type(exc).__name__)
                    continue
                if not still_mine:
                    lost = True
                    run.cancel()
                    return

        beat = asyncio.create_task(heartbeat()) if entry.db is not None else None
        status, error, handled = "ok", None, 0
        try:
            handled = await run
        except asyncio.CancelledError:
            status = "lost" if lost else "cancelled"
            if not run.done():
                run.cancel()
        except Exception as exc:
            status, error = "failed", type(exc).__name__
            log.error("job_failed", job=entry.job.name, service=entry.service, exc_info=exc)
        finally:
            if beat is not None:
                beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beat
        JOB_RUNS.labels(*labels, status).inc()
        JOB_DURATION.labels(*labels).observe(time.perf_counter() - started)
        if status == "ok":
            JOB_ITEMS.labels(*labels).inc(handled or 0)
            JOB_LAST_SUCCESS.labels(*labels).set(time.time())
            if handled:
                log.info("job_done", job=entry.job.name, service=entry.service, handled=handled)
        elif status == "lost":
            log.warning("lease_lost", job=entry.job.name, service=entry.service)
        if entry.db is None:
            self._local_next[entry.key] = time.monotonic() + entry.job.interval_seconds
        elif status != "lost":
            try:
                await asyncio.shield(self._release(entry, status, error, status == "cancelled"))
            except Exception as exc:  # the lease expires by itself
                log.warning("lease_release_failed", job=entry.job.name, error=type(exc).__name__)

    async def _tick(self) -> None:
        free = self.concurrency - len(self.running)
        claimed: list[_Entry] = []
        now = time.monotonic()
        for entry in self.entries:  # jobs without a database: local schedule only
            local_due = now >= self._local_next.get(entry.key, 0.0)
            idle = entry.key not in self.running and free > len(claimed)
            if entry.db is None and idle and local_due:
                claimed.append(entry)
        for db, entries in self._databases().values():
            if free <= len(claimed):
                break
            try:
                await self._prepare(db, entries)
                claimed += await self._claim(db, entries, free - len(claimed))
            except Exception as exc:
                log.error("claim_failed", service=db.service, error=type(exc).__name__)
        for entry in claimed:
            task = asyncio.create_task(self._execute(entry))
            self.running[entry.key] = task
            task.add_done_callback(self._forget(entry.key))
        if now >= self._next_sample:
            self._next_sample = now + self.sample_seconds
            await self.sample()

    def _forget(self, key: tuple[str, str]) -> Callable[[asyncio.Task[None]], None]:
        def done(_: asyncio.Task[None]) -> None:
            self.running.pop(key, None)

        return done

    async def sample(self) -> None:
        """Queue age per queue and outbox lag per service (one cheap query each)."""
        groups = self._databases()
        for db in self.databases:
            groups.setdefault(db.service, (db, []))
        for db, entries in groups.values():
            now = utcnow()
            if not entries:
                await self._sample_outbox(db, now)
                continue
            try:
                async with db.session() as session:
                    waiting = (
                        await session.execute(
                            sa.select(leases.c.queue, sa.func.min(leases.c.next_run_at))
                            .where(
                                leases.c.next_run_at <= now,
                                sa.or_(
                                    leases.c.leased_until.is_(None), leases.c.leased_until < now
                                ),
                            )
                            .group_by(leases.c.queue)
                        )
                    ).all()
                    oldest = {queue: _aware(at) for queue, at in waiting}
                    for queue in {e.job.queue for e in entries}:
                        at = oldest.get(queue)
                        age = (now - at).total_seconds() if at else 0.0
                        QUEUE_AGE.labels(db.service, queue).set(max(age, 0.0))
            except Exception as exc:
                log.warning("sample_failed", service=db.service, error=type(exc).__name__)
            await self._sample_outbox(db, now)

    async def _sample_outbox(self, db: Database, now: datetime) -> None:
        # The kernel owns the outbox's shape (OutboxMixin: table "outbox").
        outbox = sa.table("outbox", sa.column("created_at", UTCDateTime), sa.column("processed_at"))
        try:
            async with db.session() as session:
                count, oldest = (
                    await session.execute(
                        sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(
                            outbox.c.processed_at.is_(None)
                        )
                    )
                ).one()
        except sa.exc.DBAPIError:  # this service has no outbox table (yet)
            return
        service = db.service
        OUTBOX_PENDING.labels(service).set(count)
        OUTBOX_LAG.labels(service).set(
            max((now - _aware(oldest)).total_seconds(), 0.0) if oldest else 0.0
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run due jobs until ``stop`` is set, then drain within the grace period."""
        while not stop.is_set():
            await self._tick()
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait(
                {stopped, *self.running.values()},
                timeout=self.poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            stopped.cancel()
        await self.drain()

    async def drain(self) -> None:
        self.draining = True
        pending = set(self.running.values())
        if not pending:
            return
        log.info("worker_draining", running=len(pending), grace_seconds=self.grace_seconds)
        _, late = await asyncio.wait(pending, timeout=self.grace_seconds)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=10)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def serve_endpoints(
    port: int,
    host: str,
    ready: Callable[[], Awaitable[bool]],
) -> asyncio.Server:
    """The worker's tiny HTTP endpoint: /healthz, /readyz (503 while draining), /metrics."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b""):
                pass
            parts = line.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            if path == "/healthz":
                status, body, ctype = 200, b'{"status":"ok"}', "application/json"
            elif path == "/readyz":
                ok = await ready()
                status = 200 if ok else 503
                body = b'{"status":"ok"}' if ok else b'{"status":"unavailable"}'
                ctype = "application/json"
            elif path == "/metrics":
                body, ctype = metrics_payload()
                status = 200
            else:
                status, body, ctype = 404, b'{"status":"not found"}', "application/json"
            head = (
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
