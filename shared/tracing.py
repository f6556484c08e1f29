"""OpenTelemetry traces, on when the standard `OTEL_*` variables ask for an exporter, and otherwise absent.

Enabled by `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_TRACES_EXPORTER`
set to `otlp` or `console` (`none`, or none of them, leaves tracing off; `OTEL_SDK_DISABLED=true` wins).
Everything else is the SDK's own reading of the standard variables: the endpoint, headers, sampler
(`OTEL_TRACES_SAMPLER`), batch delays, `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`.

Off, nothing is imported or installed: no SDK, no middleware, no SQL hook, and the code paths that would
make a span test one module-level flag (`ENABLED`) first, so tracing costs nothing when nobody collects.

What a chat turn looks like, one trace across both services: the gateway's HTTP request span, `chat turn`
(the agent's run), one CLIENT span per MCP request (`mcp tools/call add_task`, whose `traceparent` travels
in the request's `_meta`, as MCP 2026-07-28 says, and in the HTTP header), the task server's HTTP span
and FastMCP's own span per tool, and one span per SQL statement.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

ENABLED = False
_TRACER_NAME = "todo-chat"


def wanted(environ: MutableMapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure_tracing(service_name: str) -> bool:
    """Install the SDK with the configured exporter when the environment asks for one; True if it did."""
    global ENABLED
    if ENABLED or not wanted():
        return ENABLED
    from opentelemetry import trace
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    exporter: SpanExporter
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    # OTEL_SERVICE_NAME, when set, names the service instead (Resource.create reads it).
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    ENABLED = True
    logger.info("tracing on: spans exported by %s", type(exporter).__name__)
    return True


def shutdown_tracing() -> None:
    """Flush what is buffered (at a clean stop), so the last turns' spans are not lost."""
    if not ENABLED:
        return
    from opentelemetry import trace

    provider: Any = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if shutdown is not None:
        shutdown()


def asgi_middleware(app: Any) -> Any:
    """The app wrapped in OpenTelemetry's ASGI middleware (one SERVER span per HTTP request, its parent
    taken from the request's `traceparent` header), or the app itself when tracing is off."""
    if not ENABLED:
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(app, excluded_urls="healthz,readyz,metrics")


def instrument_sqlalchemy(engine: Any) -> None:
    """One span per SQL statement on this engine (statement text without values), when tracing is on."""
    if not ENABLED:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # opentelemetry-instrumentation-sqlalchemy 0.66b2 declares "sqlalchemy < 2.1" and, on 2.1, logs an
    # ERROR and instruments nothing; its engine event hooks work on 2.1 (tests/chat_gateway/test_tracing.py
    # checks the statement spans), so the version check is skipped.
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, enable_commenter=False, skip_dep_check=True
    )


@contextmanager
def client_span(name: str, attributes: dict[str, Any], carrier: dict[str, Any]) -> Iterator[None]:
    """A CLIENT span around an outgoing request, its context injected into `carrier` (the MCP `_meta`
    and the HTTP headers both get a copy). Nothing at all when tracing is off."""
    if not ENABLED:
        yield
        return
    from opentelemetry import propagate, trace

    tracer = trace.get_tracer(_TRACER_NAME)
    with tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT, attributes=attributes):
        propagate.inject(carrier)
        yield


class TurnSpan:
    """The span of one chat turn, made current only around the synchronous moments that start work
    (the agent's run task copies the context when it is created) and the awaits that store the turn:
    an async generator must not keep a context attached across its yields."""

    def __init__(self, name: str, attributes: dict[str, Any]) -> None:
        self._span: Any = None
        if ENABLED:
            from opentelemetry import trace

            self._span = trace.get_tracer(_TRACER_NAME).start_span(name, attributes=attributes)

    @contextmanager
    def current(self) -> Iterator[None]:
        if self._span is None:
            yield
            return
        from opentelemetry import trace

        with trace.use_span(self._span, end_on_exit=False):
            yield

    def fail(self, code: str) -> None:
        if self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR, code))

    def end(self) -> None:
        if self._span is not None:
            self._span.end()
