"""Composition root: which services exist and how they are assembled, migrated and run."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import structlog
from litestar import Litestar

from services.gateway import Gateway
from services.kernel import jobs as kernel_jobs
from services.kernel import lifecycle
from services.kernel.db import Database
from services.kernel.http import ServiceLocator
from services.kernel.jobs import Job, Worker
from services.kernel.observability import mark_process_dead
from services.kernel.settings import Settings, check_production, load_settings

log = structlog.get_logger("relais.system")
SERVICE_NAMES: tuple[str, ...] = ("directory", "referrals", "auth", "web")
# Services with a public JSON API (an OpenAPI document); the web app serves pages.
API_SERVICES: tuple[str, ...] = ("directory", "referrals", "auth")


def service_module(name: str) -> ModuleType:
    if name not in SERVICE_NAMES:
        raise ValueError(f"unknown service {name!r}; expected one of {', '.join(SERVICE_NAMES)}")
    return importlib.import_module(f"services.{name}.app")


def build_apps(
    settings: Settings, names: Sequence[str] = SERVICE_NAMES
) -> tuple[dict[str, Litestar], ServiceLocator]:
    check_production(settings, list(names))
    locator = ServiceLocator(settings)
    apps = {name: service_module(name).create_app(settings, locator) for name in names}
    for name, app in apps.items():
        locator.register(name, app)
    return apps, locator


def create_gateway(
    settings: Settings, names: Sequence[str] = SERVICE_NAMES, *, with_worker: bool = False
) -> Gateway:
    apps, _ = build_apps(settings, names)
    if with_worker:
        attach_worker(apps, settings)
    return Gateway(apps)


def service_jobs(apps: dict[str, Litestar], queues: Sequence[str] = ()) -> list[tuple[Job, Any]]:
    jobs: list[tuple[Job, Any]] = []
    for name, app in apps.items():
        try:
            worker = importlib.import_module(f"services.{name}.worker")
        except ModuleNotFoundError:
            continue
        jobs += [(job, app) for job in worker.JOBS if not queues or job.queue in queues]
    return jobs


def make_worker(settings: Settings, jobs: list[tuple[Job, Any]]) -> Worker:
    return Worker(
        jobs,
        poll_seconds=settings.worker_poll_seconds,
        concurrency=settings.worker_concurrency,
        lease_seconds=settings.worker_lease_seconds,
        grace_seconds=settings.shutdown_grace_seconds,
    )


def log_jobs(where: str, jobs: Sequence[tuple[Job, Any]]) -> None:
    """Say at start which background jobs this process runs."""
    log.info(
        "background_jobs",
        where=where,
        jobs=sorted(f"{app.state.db.service}:{job.name}" for job, app in jobs),
    )


def attach_worker(apps: dict[str, Litestar], settings: Settings) -> None:
    """Run the background jobs inside the serving process, under leases (several processes or
    `relais worker`s may run them too: each job runs in one place at a time).

    The gateway starts the apps in order and shuts them down in reverse: the worker starts after
    the last app's startup and stops (running jobs finish or are cancelled, leases released)
    first thing in its shutdown, while every app's pool is still open.
    """
    jobs = service_jobs(apps)
    log_jobs("relais serve (this process)", jobs)
    if not jobs:
        return
    last = list(apps.values())[-1]
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start(_: Litestar) -> None:
        tasks.append(asyncio.create_task(make_worker(settings, jobs).run(stop)))

    async def finish(_: Litestar) -> None:
        stop.set()
        for task in tasks:
            await task

    last.on_startup.append(start)
    last.on_shutdown.insert(0, finish)


async def migrate(settings: Settings, names: Sequence[str] = SERVICE_NAMES) -> None:
    """Each service's own history, then the kernel's job-lease table in that service's database."""
    # Alembic (about a hundred modules, 7 MB) is imported here only: server processes, which
    # import this module, never migrate.
    from services.kernel.migrations import upgrade

    for name in names:
        module = service_module(name)
        db = Database(settings, name)
        try:
            await upgrade(db, module.MIGRATIONS)
            await upgrade(db, kernel_jobs.MIGRATIONS)
            after = getattr(module, "after_migrate", None)
            if after is not None:  # data a service needs in place (auth: the web app's client)
                await after(settings, db)
        finally:
            await db.dispose()


def served_names(settings: Settings) -> list[str]:
    return [n.strip() for n in settings.services.split(",") if n.strip()] or list(SERVICE_NAMES)


def serve_app() -> Gateway:
    """Factory of `relais serve`'s server processes (uvicorn imports it in each one).

    Settings come from the environment (RELAIS_SERVICES names the services). The background jobs
    run inside unless WORKER_ENABLED=false (production runs `relais worker` apart), on SQLite and
    PostgreSQL alike: a one-machine install sends its webhooks, mails and reminders without a
    second process. SIGTERM first turns /readyz to 503 for SHUTDOWN_DRAIN_SECONDS.
    """
    settings = load_settings()
    names = served_names(settings)
    apps, _ = build_apps(settings, names)
    if settings.worker_enabled:
        attach_worker(apps, settings)
    else:
        log.info("background_jobs", where="relais worker (WORKER_ENABLED=false)", jobs=[])
    first = next(iter(apps.values()))

    async def on_start(_: Litestar) -> None:
        lifecycle.install_drain_handler(settings.shutdown_drain_seconds)

    async def on_stop(_: Litestar) -> None:
        mark_process_dead()

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # built outside a server: take SIGTERM over at startup
        first.on_startup.append(on_start)
    else:
        # uvicorn calls this factory inside its signal capture, before the lifespan starts: a
        # SIGTERM during startup is drained (and the process exits 0) as well.
        lifecycle.install_drain_handler(settings.shutdown_drain_seconds)
    first.on_shutdown.append(on_stop)

    async def settle(_: Litestar) -> None:
        lifecycle.settle_heap()

    list(apps.values())[-1].on_startup.append(settle)  # after every service's startup
    return Gateway(apps)
