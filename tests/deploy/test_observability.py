"""Tracing across service-to-service calls, trace ids in logs, metrics helpers, draining."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar import Litestar, Request, get
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from services.gateway import Gateway
from services.kernel import lifecycle, observability, tracing
from services.kernel.app import create_service_app
from services.kernel.db import Database
from services.kernel.http import ServiceLocator
from services.kernel.settings import Settings, load_settings
from tests.conftest import lifespan_task


def build(settings: Settings) -> Gateway:
    """Two tiny services built like the real ones: alpha calls beta through the locator."""
    locator = ServiceLocator(settings)

    @get("/alpha/call")
    async def call(request: Request[Any, Any, Any]) -> dict[str, Any]:
        async with request.app.state.locator.client("beta") as client:
            response = await client.get("/beta/echo")
        return {"beta": response.json(), "log": observability.add_trace_ids(None, "info", {})}

    @get("/beta/echo")
    async def echo(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return {"traceparent": request.headers.get("traceparent")}

    apps: dict[str, Litestar] = {}
    for name, handlers in (("alpha", [call]), ("beta", [echo])):
        apps[name] = create_service_app(
            service=name,
            title=name,
            description="",
            settings=settings,
            db=Database(settings, name),
            locator=locator,
            route_handlers=handlers,
        )
        locator.register(name, apps[name])
    return Gateway(apps)


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySpanExporter]]:
    settings = load_settings(environ={}, home=tmp_path, log_level="WARNING")
    exporter = InMemorySpanExporter()
    tracing.shutdown()
    tracing.configure(settings, exporter=exporter, batch=False)
    try:
        gateway = build(settings)
        async with (
            lifespan_task(gateway),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=gateway), base_url="http://testserver"
            ) as client,
        ):
            yield client, exporter
    finally:
        tracing.shutdown()


async def test_one_trace_across_a_service_to_service_call(
    traced: tuple[httpx.AsyncClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced
    response = await client.get("/alpha/call")
    assert response.status_code == 200
    body = response.json()
    spans = exporter.get_finished_spans()
    # In one process beta's request span is INTERNAL (a span is already current); over the
    # network it is SERVER. Either way its parent is alpha's client span.
    servers = [s for s in spans if s.kind in (SpanKind.SERVER, SpanKind.INTERNAL)]
    clients = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert sorted(s.name for s in servers) == ["GET /alpha/call", "GET /beta/echo"]
    assert len(clients) == 1
    trace_ids = {s.context.trace_id for s in [*servers, *clients]}
    assert len(trace_ids) == 1
    trace_id = format(trace_ids.pop(), "032x")
    beta = next(s for s in servers if s.name == "GET /beta/echo")
    assert beta.parent is not None
    assert beta.parent.span_id == clients[0].context.span_id
    assert body["beta"]["traceparent"].split("-")[1] == trace_id
    assert body["log"]["trace_id"] == trace_id  # what every log line gets


async def test_health_endpoints_are_not_traced(
    traced: tuple[httpx.AsyncClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced
    assert (await client.get("/alpha/call")).status_code == 200
    before = len(exporter.get_finished_spans())
    for path in ("/healthz", "/readyz", "/metrics"):
        await client.get(path)
    assert len(exporter.get_finished_spans()) == before


async def test_tracing_is_off_by_default(tmp_path: Path) -> None:
    tracing.shutdown()
    settings = load_settings(environ={}, home=tmp_path)
    assert tracing.configure(settings) is None
    assert tracing.middleware(settings) is None
    assert tracing.current_ids() is None
    assert observability.add_trace_ids(None, "info", {}) == {}


async def test_readiness_is_off_while_draining(tmp_path: Path) -> None:
    settings = load_settings(environ={}, home=tmp_path, log_level="WARNING")
    gateway = build(settings)
    async with (
        lifespan_task(gateway),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url="http://testserver"
        ) as client,
    ):
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/alpha/readyz")).status_code == 404  # health is per process
        lifecycle.start_draining()
        try:
            assert (await client.get("/readyz")).json()["status"] == "draining"
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/healthz")).status_code == 200  # alive, just leaving
            assert (await client.get("/alpha/call")).status_code == 200  # still serving
        finally:
            lifecycle.reset()
        assert (await client.get("/readyz")).status_code == 200


async def test_pool_gauges_follow_checkouts(tmp_path: Path) -> None:
    settings = load_settings(environ={}, home=tmp_path, log_level="WARNING")
    db = Database(settings, "gauged")
    observability.instrument_pool("gauged", db.engine, 3)
    assert REGISTRY.get_sample_value("relais_db_pool_connections_max", {"service": "gauged"}) == 3
    async with db.session() as session:
        await session.execute(sa.text("SELECT 1"))
        in_use = REGISTRY.get_sample_value(
            "relais_db_pool_connections_in_use", {"service": "gauged"}
        )
        assert in_use == 1
    assert (
        REGISTRY.get_sample_value("relais_db_pool_connections_in_use", {"service": "gauged"}) == 0
    )
    await db.dispose()
    assert REGISTRY.get_sample_value("relais_db_pool_connections_max", {"service": "gauged"}) == 0


def test_metric_helpers_register_once_and_refuse_clashes() -> None:
    first = observability.counter("relais_test_things_total", "things", ("service", "outcome"))
    again = observability.counter("relais_test_things_total", "things", ("service", "outcome"))
    assert first is again
    first.labels("referrals", "ok").inc()
    with pytest.raises(ValueError, match="another shape"):
        observability.counter("relais_test_things_total", "things", ("service",))
    with pytest.raises(ValueError, match="another shape"):
        observability.gauge("relais_test_things_total", "things", ("service", "outcome"))
    with pytest.raises(ValueError, match="relais_"):
        observability.counter("things_total", "things")
    body, _ = observability.metrics_payload()
    assert b'relais_test_things_total{outcome="ok",service="referrals"} 1.0' in body
