"""Background jobs: periodic coroutines run by the worker loop (inside `serve` when embedded)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger("relais.worker")


@dataclass(frozen=True)
class Job:
    """A unit of background work. ``run`` returns how many items it handled."""

    name: str
    queue: str
    interval_seconds: float
    run: Callable[[Any], Awaitable[int]]


async def run_jobs(
    jobs: Sequence[tuple[Job, Any]],
    stop: asyncio.Event,
    *,
    poll_seconds: float = 1.0,
) -> None:
    """Run each job when due until ``stop`` is set; a failing job is logged and retried later."""
    next_run = {job.name: 0.0 for job, _ in jobs}
    while not stop.is_set():
        now = time.monotonic()
        for job, context in jobs:
            if stop.is_set() or now < next_run[job.name]:
                continue
            try:
                handled = await job.run(context)
                if handled:
                    log.info("job_done", job=job.name, handled=handled)
            except Exception as exc:
                log.error("job_failed", job=job.name, error_type=type(exc).__name__, exc_info=exc)
            next_run[job.name] = time.monotonic() + job.interval_seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
