"""Prometheus metrics: request counts and latency by route, and chat turn outcomes."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import KeyStatus

HTTP_REQUESTS = Counter("gateway_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "gateway_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CHAT_TURNS = Counter("gateway_chat_turns_total", "Chat turns by outcome (ok, or the error code)", ["outcome"])
TOOL_CALLS = Counter("gateway_tool_calls_total", "Tool calls made by the agent", ["tool", "is_error"])
# Every MCP request the gateway sends, by method and tool: how many round trips a turn costs.
TASK_SERVER_REQUESTS = Counter(
    "gateway_task_server_requests_total", "MCP requests sent to the task server", ["method", "tool"]
)
CHATKIT_FEEDBACK = Counter("gateway_chatkit_feedback_total", "ChatKit feedback on items, by kind", ["kind"])
JWKS_USABLE = Gauge("gateway_jwks_usable", "1 while tokens can be verified (cached keys count), else 0")
JWKS_AGE = Gauge(
    "gateway_jwks_age_seconds", "Seconds since the last successful JWKS fetch (-1: fixed keys or none yet)"
)
JWKS_LAST_ERROR = Gauge(
    "gateway_jwks_last_error_timestamp_seconds",
    "When the last JWKS fetch failed, if it failed after the last success (0: no error since)",
)
JWKS_FAILURES = Gauge(
    "gateway_jwks_consecutive_failures", "JWKS fetches that failed in a row since the last success"
)


def observe_keys(status: KeyStatus) -> None:
    JWKS_USABLE.set(1 if status.usable else 0)
    JWKS_AGE.set(-1 if status.age_seconds is None else status.age_seconds)
    JWKS_LAST_ERROR.set(status.last_error_at or 0)
    JWKS_FAILURES.set(status.consecutive_failures)


def _route_template(scope: Scope) -> str:
    """The matched route's template (`/api/{user_id}/chat`), never the raw path: user ids must not
    become label values (unbounded cardinality, and they are personal data). The router records the
    matched route in the scope; unmatched requests (404s) share one label."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = _route_template(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)


async def metrics_endpoint(request: Request) -> Response:
    keys = getattr(request.app.state, "keys", None)
    if keys is not None:
        observe_keys(keys.status())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
