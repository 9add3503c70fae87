"""Process lifecycle: draining on SIGTERM so a load balancer stops sending traffic first.

Kubernetes sends SIGTERM and removes the pod from its Service endpoints at about the same time;
requests may still arrive for a few seconds. ``install_drain_handler`` (used by ``relais serve``)
makes the first SIGTERM turn ``/readyz`` to 503 for ``SHUTDOWN_DRAIN_SECONDS`` while requests are
still served, then hands the signal to the server, which stops accepting connections and gives
in-flight requests ``SHUTDOWN_GRACE_SECONDS`` to finish.
"""

from __future__ import annotations

import asyncio
import os
import signal
from types import FrameType

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
    """Wrap the server's SIGTERM handler (call from a lifespan startup hook).

    The first SIGTERM starts draining and gives the server its own handler back; the signal is
    sent again to this process after ``drain_seconds``, so the server shuts down exactly as on
    a plain SIGTERM. A SIGTERM or SIGINT during the drain reaches the server at once.
    """
    loop = asyncio.get_running_loop()
    original = signal.getsignal(signal.SIGTERM)

    def on_signal(sig: int, frame: FrameType | None) -> None:
        start_draining()
        signal.signal(signal.SIGTERM, original)
        if drain_seconds <= 0:
            signal.raise_signal(signal.SIGTERM)
            return
        loop.call_soon_threadsafe(
            loop.call_later, drain_seconds, os.kill, os.getpid(), signal.SIGTERM
        )

    if callable(original):
        signal.signal(signal.SIGTERM, on_signal)
