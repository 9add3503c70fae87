"""Composition root: which services exist and how they are assembled, migrated and run."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from litestar import Litestar

from services.gateway import Gateway
from services.kernel.db import Database
from services.kernel.http import ServiceLocator
from services.kernel.jobs import Job, run_jobs
from services.kernel.migrations import upgrade
from services.kernel.settings import Settings

SERVICE_NAMES: tuple[str, ...] = ("directory", "referrals", "auth")


def service_module(name: str) -> ModuleType:
    if name not in SERVICE_NAMES:
        raise ValueError(f"unknown service {name!r}; expected one of {', '.join(SERVICE_NAMES)}")
    return importlib.import_module(f"services.{name}.app")


def build_apps(
    settings: Settings, names: Sequence[str] = SERVICE_NAMES
) -> tuple[dict[str, Litestar], ServiceLocator]:
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


def attach_worker(apps: dict[str, Litestar], settings: Settings) -> None:
    """Run the background jobs inside the serving process (embedded mode)."""
    jobs = service_jobs(apps)
    if not jobs:
        return
    first = next(iter(apps.values()))
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start(_: Litestar) -> None:
        tasks.append(
            asyncio.create_task(run_jobs(jobs, stop, poll_seconds=settings.worker_poll_seconds))
        )

    async def finish(_: Litestar) -> None:
        stop.set()
        for task in tasks:
            await task

    first.on_startup.append(start)
    first.on_shutdown.insert(0, finish)


async def migrate(settings: Settings, names: Sequence[str] = SERVICE_NAMES) -> None:
    for name in names:
        module = service_module(name)
        db = Database(settings, name)
        try:
            await upgrade(db, module.MIGRATIONS)
        finally:
            await db.dispose()
