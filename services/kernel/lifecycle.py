"""Process lifecycle: draining on SIGTERM so a load balancer stops sending traffic first.

Kubernetes sends SIGTERM and removes the pod from its Service endpoints at about the same time;
requests may still arrive for a few seconds. ``install_drain_handler`` (used by ``relais serve``)
makes the first SIGTERM turn ``/readyz`` to 503 for ``SHUTDOWN_DRAIN_SECONDS`` while requests are
still served, then hands the signal to the server, which stops accepting connections and gives
in-flight requests ``SHUTDOWN_GRACE_SECONDS`` to finish. A second SIGTERM/SIGINT stops at once.
"""

from __future__ import annotations

import asyncio
import signal
from types import FrameType
from typing import Any

import structlog

log = structlog.get_logger("relais.lifecycle")
_draining = False


def draining() -> bool:
    return _draining


def start_draining() -> None:
    global _draining
    if not _draining:
        log.info("draining")
    _draining = True


def reset() -> None:
    global _draining
    _draining = False


def install_drain_handler(drain_seconds: float) -> None:
    """Wrap the server's SIGTERM/SIGINT handlers (call from a lifespan startup hook)."""
    loop = asyncio.get_running_loop()
    originals: dict[int, Any] = {
        sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)
    }

    def forward(sig: int, frame: FrameType | None) -> None:
        handler = originals[sig]
        if callable(handler):
            handler(sig, frame)
        elif handler == signal.SIG_DFL:
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    def on_signal(sig: int, frame: FrameType | None) -> None:
        if _draining or drain_seconds <= 0 or sig == signal.SIGINT:
            start_draining()
            forward(sig, frame)
            return
        start_draining()
        loop.call_soon_threadsafe(loop.call_later, drain_seconds, forward, sig, None)

    for sig in originals:
        signal.signal(sig, on_signal)
