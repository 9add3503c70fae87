"""OpenTelemetry tracing, off by default.

When ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, every service app records a server span per request
(W3C ``traceparent`` honoured) and every service-to-service client made by
``ServiceLocator.client`` records a client span and propagates the context, so one referral's
path through directory, referrals and auth is one trace. Log lines carry ``trace_id`` and
``span_id`` (see ``observability.add_trace_ids``). Spans carry the route template, method and
status only: never query strings, bodies or personal data.

The provider is process-wide and configured once (the first app built decides); tests may pass
their own exporter to ``configure``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from opentelemetry import trace

from services.kernel.settings import Settings

if TYPE_CHECKING:
    from litestar.middleware.base import DefineMiddleware
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

_provider: TracerProvider | None = None
_EXCLUDED = [r"/healthz$", r"/readyz$", r"/metrics$"]


def configure(
    settings: Settings,
    *,
    service_name: str = "relais",
    exporter: SpanExporter | None = None,
    batch: bool = True,
) -> TracerProvider | None:
    """Create the process's tracer provider when tracing is on; idempotent."""
    global _provider
    if _provider is not None:
        return _provider
    if exporter is None and not settings.otel_exporter_otlp_endpoint:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        exporter = OTLPSpanExporter(endpoint=endpoint)
    ratio = min(max(settings.tracing_sample_ratio, 0.0), 1.0)
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(TraceIdRatioBased(ratio)),
    )
    provider.add_span_processor(
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    _provider = provider
    return provider


def shutdown() -> None:
    """Flush and forget the provider (process exit, or the end of a test)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


def enabled() -> bool:
    return _provider is not None


def middleware(settings: Settings) -> DefineMiddleware | None:
    """Server spans for a Litestar app, or None when tracing is off."""
    provider = configure(settings)
    if provider is None:
        return None
    from litestar.plugins.opentelemetry import OpenTelemetryConfig

    config = OpenTelemetryConfig(
        tracer_provider=provider, exclude=list(_EXCLUDED), exclude_spans=["receive", "send"]
    )
    return config.middleware


def instrument(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Client spans and ``traceparent`` propagation on one service-to-service client."""
    if _provider is None:
        return client
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=_provider)
    return client


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, when one is being recorded."""
    if _provider is None:
        return None
    context: Any = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
