"""A minimal OpenTelemetry collector on loopback: accepts OTLP/HTTP protobuf trace exports (what the SDK's
`OTLPSpanExporter` sends to `OTEL_EXPORTER_OTLP_ENDPOINT`/v1/traces) and keeps the spans for assertions."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.processes import free_port


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, object]


class Collector:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        app = Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> Collector:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the collector did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _traces(self, request: Request) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        received = []
        for resource_spans in export.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    attributes: dict[str, object] = {}
                    for attribute in span.attributes:
                        value = attribute.value
                        attributes[attribute.key] = value.string_value or value.int_value or value.bool_value
                    received.append(
                        Span(
                            service=resource.get("service.name", ""),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes=attributes,
                        )
                    )
        with self._lock:
            self.spans.extend(received)
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")

    def snapshot(self) -> list[Span]:
        with self._lock:
            return list(self.spans)
