"""Assemble the FastMCP server: tools, error mapping, lifespan, health routes and the HTTP app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fastmcp import FastMCP
from fastmcp.tools import Tool
from fastmcp.utilities.versions import VersionSpec
from starlette.applications import Starlette
from starlette.middleware import Middleware as ASGIMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse

from shared import tracing
from shared.auth import KeySource
from shared.identity import build_key_source, build_verifier
from shared.request_id import RequestIdMiddleware
from shared.serve import draining

from .activity.tools import register_activity_tools
from .auth import build_auth_provider
from .context import STATE_KEY, AppState
from .conversations.threads.tools import register_thread_tools
from .conversations.tools import register_conversation_tools
from .db import create_autocommit_sessionmaker, create_engine, create_sessionmaker, ping
from .observe import ObserveMiddleware, metrics_route
from .output_schema import compact
from .purge import purge_forever
from .settings import TaskServerSettings
from .tasks.tools import register_task_tools

logger = logging.getLogger(__name__)

SERVER_NAME = "todo-tasks"
INSTRUCTIONS = (
    "Manage the signed-in user's to-do list: add, list, complete, update and delete tasks. "
    "Find a task's id with list_tasks before acting on it by title. Deleted tasks go to the trash and "
    "every change can be undone (undo, restore_task). To complete or delete several tasks, use "
    "complete_tasks / delete_tasks: they return a preview first; confirm only after the user said yes."
)


class TaskServerMCP(FastMCP):
    """FastMCP with a direct lookup for the tools registered at start-up. FastMCP resolves a tool on
    every call through its providers, session transforms, visibility rules and per-tool auth, none of
    which this server uses (its tools are fixed, with no versions, no per-tool auth and nothing ever
    hidden): ~8% of a tool call under pyinstrument. Anything else (a version asked for, an unknown name)
    still takes FastMCP's own path, which answers unknown names with NotFoundError as before."""

    fixed_tools: dict[str, Tool]

    async def get_tool(self, name: str, version: VersionSpec | None = None) -> Tool | None:
        fixed: dict[str, Tool] = getattr(self, "fixed_tools", {})
        tool = fixed.get(name) if version is None else None
        return tool if tool is not None else await super().get_tool(name, version)


class Runtime:
    """What the HTTP routes outside MCP (health, readiness) need from the lifespan."""

    def __init__(self) -> None:
        self.state: AppState | None = None
        self.keys: KeySource | None = None


def create_server(settings: TaskServerSettings, *, stdio: bool = False) -> tuple[FastMCP, Runtime]:
    runtime = Runtime()
    auth = None
    if not stdio:
        runtime.keys = build_key_source(settings)
        auth = build_auth_provider(
            settings, build_verifier(settings, settings.accepted_audience, runtime.keys)
        )

    @asynccontextmanager
    async def lifespan(_: FastMCP) -> AsyncIterator[dict[str, Any]]:
        engine = create_engine(
            settings.sqlalchemy_url(),
            pool_size=settings.db_pool_size,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            hide_parameters=not settings.log_sensitive,
            pooled=settings.pooled,
        )
        tracing.instrument_sqlalchemy(engine)
        state = AppState(
            engine=engine,
            sessions=create_sessionmaker(engine),
            single_statement_sessions=create_autocommit_sessionmaker(engine),
            trash_retention=timedelta(days=settings.trash_retention_days),
            fixed_user_id=settings.mcp_stdio_user_id if stdio else None,
        )
        runtime.state = state
        purging = asyncio.create_task(
            purge_forever(
                state.sessions,
                settings.trash_retention_days,
                settings.activity_retention_days,
                settings.purge_interval_seconds,
            )
        )
        try:
            yield {STATE_KEY: state}
        finally:
            purging.cancel()
            with suppress(asyncio.CancelledError):
                await purging
            runtime.state = None
            await engine.dispose()
            aclose = getattr(runtime.keys, "aclose", None)
            if aclose is not None:
                await aclose()

    # One middleware (metrics around error mapping, see observe.py): each FastMCP middleware layer costs
    # four wrapped calls per tool call.
    observe = ObserveMiddleware()
    mcp = TaskServerMCP(
        SERVER_NAME,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        auth=auth,
        middleware=[observe],
        # Defence in depth: whatever slips past ErrorMiddleware reaches a client as a generic message.
        mask_error_details=True,
        on_duplicate="error",
    )
    tools = [
        *register_task_tools(mcp),
        *register_activity_tools(mcp),
        *register_conversation_tools(mcp),
        *register_thread_tools(mcp),
    ]
    # MCP 2026-07-28 checks a tools/call's `Mcp-Param-*` headers against the tool's input schema, and
    # without this lookup the SDK finds that schema by running a whole tools/list (every tool's schema,
    # dereferenced) on every call: a third of a call's time. The tools are fixed, so serve it from a dict.
    schemas = {tool.name: tool.parameters for tool in tools}
    for tool in tools:
        if tool.output_schema is not None:
            tool.output_schema = compact(tool.output_schema)
    observe.tool_names = frozenset(schemas)
    mcp._mcp_server.get_tool_input_schema = schemas.get
    mcp.fixed_tools = {tool.name: tool for tool in tools}
    _add_health_routes(mcp, runtime)
    return mcp, runtime


def _add_health_routes(mcp: FastMCP, runtime: Runtime) -> None:
    @mcp.custom_route("/healthz", methods=["GET"])
    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    def pool_status() -> tuple[int, int] | None:
        state = runtime.state
        if state is None:
            return None
        pool: Any = state.engine.pool
        return int(pool.checkedout()), int(pool.size())

    mcp.custom_route("/metrics", methods=["GET"])(metrics_route(pool_status))

    @mcp.custom_route("/readyz", methods=["GET"])
    async def readyz(_: Request) -> JSONResponse:
        if draining():
            # Shutting down: a balancer should send no new work here, though what comes is still served.
            return JSONResponse(
                {"error": {"code": "draining", "message": "Shutting down: still serving, not taking work."}},
                status_code=503,
            )
        state = runtime.state
        if state is None or not await ping(state.engine):
            return JSONResponse(
                {"error": {"code": "unavailable", "message": "The database is not reachable."}},
                status_code=503,
            )
        return JSONResponse({"status": "ready"})


def create_http_app(settings: TaskServerSettings) -> Starlette:
    # FastMCP makes a span per tool call from the OpenTelemetry API on its own, parented by the
    # `traceparent` in the request's `_meta`; the SDK installed here exports them (tracing.py).
    tracing.configure_tracing("mcp_task_server")
    mcp, _ = create_server(settings)
    allowed_hosts = [urlsplit(settings.public_url).netloc, *settings.task_server_allowed_hosts]
    middleware = [ASGIMiddleware(RequestIdMiddleware)]
    if tracing.ENABLED:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        middleware.insert(0, ASGIMiddleware(OpenTelemetryMiddleware, excluded_urls="healthz,readyz,metrics"))
    return mcp.http_app(
        path="/mcp",
        stateless_http=True,
        json_response=True,
        # Rejects DNS-rebinding requests: a Host (or browser Origin) this server was not configured for.
        host_origin_protection=True,
        allowed_hosts=allowed_hosts,
        middleware=middleware,
    )
