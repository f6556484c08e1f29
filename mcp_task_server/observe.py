"""What the task server tells operators: Prometheus metrics at /metrics, and audit events for the changes
that touch many tasks at once or take changes back.

- `task_server_tool_calls_total{tool, outcome}`: `ok`, or the error code the caller got;
- `task_server_tool_seconds{tool}`: latency, from the request's arrival at the tool to its answer;
- `task_server_db_pool_connections{state}`: the connection pool's `in_use` and `size` at scrape time.
Audit (shared/audit.py): `bulk_confirmed` when complete_tasks / delete_tasks act on a confirmation, and
`undo`, with the user, the counts and ids, never titles.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import mcp.types as mt
from fastmcp.server.dependencies import get_access_token
from fastmcp.server.middleware import CallNext, MiddlewareContext
from fastmcp.tools.base import ToolResult
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from shared.audit import audit
from shared.schemas import ERROR_META_KEY

from .tool_errors import ErrorMiddleware

TOOL_CALLS = Counter("task_server_tool_calls_total", "Tool calls by tool and outcome", ["tool", "outcome"])
TOOL_SECONDS = Histogram(
    "task_server_tool_seconds",
    "Tool call latency",
    ["tool"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
POOL = Gauge("task_server_db_pool_connections", "Database pool connections", ["state"])
_BULK = ("complete_tasks", "delete_tasks")


class ObserveMiddleware(ErrorMiddleware):
    """The tool middleware: maps failures (ErrorMiddleware), then sees every call's answer as the client
    gets it. One layer rather than two, since each FastMCP middleware layer costs four wrapped calls.
    `tool_names` is filled once the tools are registered: any other name is counted as `unknown`, since
    the caller chooses it and labels must not grow without bound."""

    def __init__(self) -> None:
        self.tool_names: frozenset[str] = frozenset()

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        name = context.message.name
        started = time.perf_counter()
        result = await super().on_call_tool(context, call_next)
        known = name if name in self.tool_names else "unknown"
        TOOL_SECONDS.labels(known).observe(time.perf_counter() - started)
        error = (result.meta or {}).get(ERROR_META_KEY) if result.meta else None
        outcome = str(error.get("code")) if isinstance(error, dict) else "ok"
        TOOL_CALLS.labels(known, outcome).inc()
        if outcome == "ok":
            _audit_change(name, context.message.arguments or {}, result.structured_content or {})
        return result


def _user() -> str | None:
    token = get_access_token()
    return None if token is None else str(token.client_id)


def _audit_change(name: str, arguments: dict[str, Any], result: dict[str, Any]) -> None:
    if name in _BULK and arguments.get("confirmation_token"):
        audit(
            "bulk_confirmed",
            service="mcp_task_server",
            user_id=_user(),
            action=result.get("action"),
            count=result.get("count"),
        )
    elif name == "undo":
        reverted = result.get("reverted") or []
        audit(
            "undo",
            service="mcp_task_server",
            user_id=_user(),
            change_id=result.get("change_id"),
            reverted=len(reverted) if isinstance(reverted, list) else None,
        )


def metrics_route(pool_status: Callable[[], tuple[int, int] | None]) -> Callable[[Request], Any]:
    """GET /metrics, with the pool's (in use, size) read when scraped."""

    async def metrics(_: Request) -> Response:
        status = pool_status()
        if status is not None:
            POOL.labels("in_use").set(status[0])
            POOL.labels("size").set(status[1])
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return metrics
