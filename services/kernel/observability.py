"""Structured JSON logs with a request id, and Prometheus metrics per route and status.

Access logs carry method, route template, status and duration — never query strings or bodies,
which may hold personal data.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

REQUESTS = Counter(
    "relais_http_requests_total",
    "HTTP requests by service, route template, method and status",
    ["service", "route", "method", "status"],
)
LATENCY = Histogram(
    "relais_http_request_duration_seconds",
    "HTTP request latency by service and route template",
    ["service", "route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_configured = False


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


access_log = structlog.get_logger("relais.access")


def observability_middleware(service: str) -> Any:
    """ASGI middleware factory: request id, access log and metrics."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":  # type: ignore[comparison-overlap]
                await app(scope, receive, send)
                return
            incoming = _header(scope, REQUEST_ID_HEADER)
            request_id = (
                incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
            )
            structlog.contextvars.bind_contextvars(request_id=request_id)
            status = 500
            started = time.perf_counter()

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", []))
                    headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                    message["headers"] = headers  # type: ignore[typeddict-unknown-key]
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            finally:
                elapsed = time.perf_counter() - started
                route = str(scope.get("path_template") or "unmatched")
                method = scope.get("method", "")
                REQUESTS.labels(service, route, method, str(status)).inc()
                LATENCY.labels(service, route, method).observe(elapsed)
                access_log.info(
                    "request",
                    service=service,
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
                structlog.contextvars.unbind_contextvars("request_id")

        return middleware

    return factory


def _header(scope: Scope, name: str) -> str | None:
    target = name.encode()
    for key, value in scope.get("headers", []):
        if key.lower() == target:
            try:
                return bytes(value).decode("latin-1")
            except UnicodeDecodeError:
                return None
    return None


def metrics_payload() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
