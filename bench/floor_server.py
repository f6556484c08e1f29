"""The floor for tool-call latency: an empty FastMCP tool served exactly as the task server serves its
tools (same auth, middleware, stateless JSON transport, uvicorn), with no database behind it.

    TASK_SERVER_PORT=... python -m bench.floor_server
"""

from __future__ import annotations

import uvicorn
from fastmcp import FastMCP
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.middleware import Middleware as ASGIMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_task_server.auth import build_auth_provider
from mcp_task_server.settings import TaskServerSettings
from mcp_task_server.tool_errors import ErrorMiddleware
from shared.identity import build_key_source, build_verifier
from shared.logging import configure_logging
from shared.request_id import RequestIdMiddleware


class Nothing(BaseModel):
    ok: bool = True


async def noop() -> Nothing:
    """Do nothing."""
    return Nothing()


def create_app(settings: TaskServerSettings) -> Starlette:
    auth = build_auth_provider(
        settings, build_verifier(settings, settings.accepted_audience, build_key_source(settings))
    )
    mcp = FastMCP("floor", auth=auth, middleware=[ErrorMiddleware()], mask_error_details=True)
    mcp.tool(noop)

    @mcp.custom_route("/healthz", methods=["GET"])
    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return mcp.http_app(
        path="/mcp",
        stateless_http=True,
        json_response=True,
        host_origin_protection=True,
        middleware=[ASGIMiddleware(RequestIdMiddleware)],
    )


def main() -> None:
    settings = TaskServerSettings()
    configure_logging("WARNING")
    app = create_app(settings)
    uvicorn.run(app, host="127.0.0.1", port=settings.task_server_port, log_config=None, log_level="warning")


if __name__ == "__main__":
    main()
