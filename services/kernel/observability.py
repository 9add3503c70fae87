"""Structured JSON logs with a request id, and Prometheus metrics per route and status.

Access logs carry method, route template, status and duration — never query strings or bodies,
which may hold personal data.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

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
_METRICS: dict[str, Any] = {}
# Set by `relais serve --workers N` (N > 1) so that every server process writes its samples
# where the one that answers the scrape can add them up.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _metric(kind: Any, name: str, documentation: str, labels: tuple[str, ...], **kw: Any) -> Any:
    if not name.startswith("relais_"):
        raise ValueError(f"metric {name!r} must start with relais_")
    existing = _METRICS.get(name)
    if existing is not None:
        if not isinstance(existing, kind) or tuple(existing._labelnames) != labels:
            raise ValueError(f"metric {name!r} already registered with another shape")
        return existing
    metric = kind(name, documentation, list(labels), **kw)
    _METRICS[name] = metric
    return metric


def counter(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
    """A process-wide counter, registered once however many apps are built (tests build many).

    Example (referrals): ``WEBHOOKS = counter("relais_webhook_deliveries_total", "…",
    ("service", "outcome"))`` at module level, then ``WEBHOOKS.labels("referrals", "ok").inc()``.
    Labels must stay low-cardinality: never ids, e-mails or any personal data.
    """
    result: Counter = _metric(Counter, name, documentation, labels)
    return result


def gauge(
    name: str, documentation: str, labels: tuple[str, ...] = (), *, aggregate: str = "max"
) -> Gauge:
    """A gauge; ``aggregate`` says how server processes combine (``max``, ``livesum``…)."""
    result: Gauge = _metric(Gauge, name, documentation, labels, multiprocess_mode=aggregate)
    return result


def histogram(
    name: str,
    documentation: str,
    labels: tuple[str, ...] = (),
    buckets: tuple[float, ...] = Histogram.DEFAULT_BUCKETS,
) -> Histogram:
    result: Histogram = _metric(Histogram, name, documentation, labels, buckets=buckets)
    return result


DB_POOL_IN_USE = gauge(
    "relais_db_pool_connections_in_use",
    "Database connections checked out, by service (summed over processes)",
    ("service",),
    aggregate="livesum",
)
DB_POOL_CAPACITY = gauge(
    "relais_db_pool_connections_max",
    "Largest number of connections the pools may open (pool size + overflow), by service",
    ("service",),
    aggregate="livesum",
)


def instrument_pool(service: str, engine: Any, capacity: int) -> None:
    """Count checked-out connections of a SQLAlchemy (async) engine's pool."""
    from sqlalchemy import event

    sync_engine = getattr(engine, "sync_engine", engine)
    if getattr(sync_engine, "_relais_instrumented", False):
        return
    sync_engine._relais_instrumented = True
    in_use = DB_POOL_IN_USE.labels(service)
    DB_POOL_CAPACITY.labels(service).inc(capacity)

    @event.listens_for(sync_engine, "checkout")
    def _checkout(*_: Any) -> None:
        in_use.inc()

    @event.listens_for(sync_engine, "checkin")
    def _checkin(*_: Any) -> None:
        in_use.dec()

    @event.listens_for(sync_engine, "engine_disposed")
    def _disposed(*_: Any) -> None:
        DB_POOL_CAPACITY.labels(service).dec(capacity)


def log_formatter(fmt: str = "json") -> logging.Formatter:
    """How every standard-library record is rendered: structlog's chain, with tracebacks that hold
    neither frame locals (they hold request bodies) nor the values bound to a failed SQL statement
    (both personal data)."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            _stamp,
            add_trace_ids,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _exceptions,
            _renderer(fmt),
        ],
    )


def _renderer(fmt: str) -> Any:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """One format for every line on stderr: Relais's structlog events and the standard-library
    loggers of uvicorn, Litestar, SQLAlchemy… (rendered by structlog's formatter, written
    synchronously: no queue thread whose last lines a dying process would lose)."""
    global _configured
    if _configured:
        return
    _configured = True
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter(fmt))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # (uvicorn.access stays as the server set it: off, our `request` events log requests without
    # their query strings.)
    # httpx logs every call's full URL at INFO: a query string may hold what a person typed.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "litestar"):
        # Their own handlers (if a library installed some) would print a second, plain line.
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_trace_ids,
            structlog.processors.add_log_level,
            _stamp,
            _exceptions,
            _renderer(fmt),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


# Where a database error message quotes a value: asyncpg's "invalid input for query argument $1:
# 'value' (reason)", PostgreSQL's "…for type integer: "value"" and its "DETAIL:  Key (email)=(value)
# already exists.", and SQLAlchemy's "[parameters: …]" (engines also set hide_parameters).
_ARGUMENT = re.compile(r"(query argument \$\d+: ).*?( \((?:expected |'|\w+ object).*)$", re.M)
_PARAMETERS = re.compile(r"\[parameters: .*?\]\n(?=\(Background|$)", re.S)
_KEY_VALUES = re.compile(r"\)=\(.*?\)(?= already exists| is not present| conflicts|\.|$)", re.M)
_QUOTED = re.compile(r"(: )(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')")
_STATEMENT = re.compile(r"(\[SQL: .*?\]\n)", re.S)
_REDACTED = "…"


def redact_database_error(text: str) -> str:
    """A database error message without the values it quotes: the statement (with its
    placeholders) and the error itself are kept."""
    parts = _STATEMENT.split(_PARAMETERS.sub("", text))
    for index in range(0, len(parts), 2):  # odd indexes are SQL statements: kept as they are
        part = _ARGUMENT.sub(rf"\g<1>{_REDACTED}\g<2>", parts[index])
        part = _KEY_VALUES.sub(f")=({_REDACTED})", part)
        parts[index] = _QUOTED.sub(rf"\g<1>{_REDACTED}", part)
    return "".join(parts)


def _is_database_error(exc: BaseException) -> bool:
    from sqlalchemy import exc as sa_exc

    module = type(exc).__module__
    return isinstance(exc, sa_exc.StatementError) or module.startswith(
        ("asyncpg", "sqlite3", "aiosqlite", "sqlalchemy.dialects")
    )


class WithoutBoundValues(structlog.tracebacks.ExceptionDictTransformer):
    """structlog's traceback transformer; when a database error is in the exception chain, every
    message of the chain is redacted (``redact_database_error``)."""

    def __call__(self, exc_info: Any) -> list[dict[str, Any]]:
        stacks = super().__call__(exc_info)
        chain: list[BaseException] = []
        current: BaseException | None = exc_info[1]
        while current is not None and current not in chain and len(chain) < 50:
            chain.append(current)
            current = current.__cause__ or current.__context__
        if any(_is_database_error(exc) for exc in chain):
            for stack in stacks:
                stack["exc_value"] = redact_database_error(str(stack.get("exc_value", "")))
        return stacks


_stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
_exceptions = structlog.processors.ExceptionRenderer(WithoutBoundValues(show_locals=False))


def add_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Put the current OpenTelemetry trace and span ids on every log line (when tracing is on)."""
    from services.kernel import tracing

    ids = tracing.current_ids()
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


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
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def mark_process_dead() -> None:
    """Drop this server process's live gauges from the shared metrics folder."""
    if os.environ.get(MULTIPROC_ENV):
        prometheus_multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
