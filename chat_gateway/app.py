"""Assemble the gateway: lifespan (clients, verifier, model), middleware, and the one error mapping."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from agents import Model
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import tracing
from shared.identity import build_key_source, build_verifier
from shared.request_id import RequestIdMiddleware
from shared.validation import BIGINT_MAX

from .api import error_responses, router
from .chatkit.routes import router as chatkit_router
from .chatkit.server import TodoChatKitServer
from .errors import GatewayError
from .llm import build_model
from .metrics import MetricsMiddleware, metrics_endpoint
from .ratelimit import build_rate_limiter
from .readiness import readiness_response
from .security import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from .settings import GatewaySettings
from .task_server import TaskServerClient
from .turns import ChatService
from .webapp import add_web_routes

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    conversation_id: int | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(settings: GatewaySettings, *, model: Model | None = None) -> FastAPI:
    """The gateway as an ASGI app. `model` replaces the configured one (tests pass a scripted model)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys = build_key_source(settings)
        tasks = TaskServerClient(settings.mcp_task_server_url, timeout=settings.task_server_timeout_seconds)
        limiter = build_rate_limiter(settings.rate_limit_per_minute, settings.rate_limit_storage_url)
        app.state.settings = settings
        app.state.keys = keys
        app.state.verifier = build_verifier(settings, settings.accepted_audience, keys)
        app.state.tasks = tasks
        app.state.rate_limiter = limiter
        chat = app.state.chat = ChatService(settings, tasks, model or build_model(settings))
        app.state.chatkit = TodoChatKitServer(chat)
        try:
            yield
        finally:
            await chat.drain()
            await tasks.aclose()
            await limiter.aclose()
            aclose = getattr(keys, "aclose", None)
            if aclose is not None:
                await aclose()

    app = FastAPI(
        title="Todo chat gateway",
        version="0.1.0",
        description="Chat with an assistant that manages your to-do list. Every `/api/{user_id}` route needs "
        "`Authorization: Bearer <JWT>` whose `sub` equals `user_id`. Errors: "
        '`{"error": {"code", "message"}}`.',
        lifespan=lifespan,
    )
    app.include_router(router)
    app.include_router(chatkit_router)
    _add_operational_routes(app)
    add_web_routes(app, settings)
    _add_error_handlers(app)
    _state_configured_limits(app, settings)
    # Added innermost first: the request id wraps everything, so every log line and error carries it.
    app.add_middleware(MetricsMiddleware)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "X-Timezone"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(RequestIdMiddleware)
    if tracing.configure_tracing("chat_gateway"):
        # Outermost: the HTTP request's span covers everything, its parent from a `traceparent` header.
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        app.add_middleware(OpenTelemetryMiddleware, excluded_urls="healthz,readyz,metrics")
    return app


def _add_operational_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Ready for chat turns: not draining, the task server answers, tokens can be verified",
        responses={200: {"content": {"application/json": {}}}, **error_responses(503)},
    )
    async def readyz(request: Request) -> JSONResponse:
        return await readiness_response(request.app.state.tasks, request.app.state.keys)

    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)


def _state_configured_limits(app: FastAPI, settings: GatewaySettings) -> None:
    """The document states the limits this deployment enforces: the request model carries the settings'
    ceiling (it is defined once, at import), the configured `message_max_chars` is the real one."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            message = document["components"]["schemas"]["ChatRequest"]["properties"]["message"]
            message["maxLength"] = settings.message_max_chars
            app.openapi_schema = _exact_bounds(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})


def _exact_bounds(node: Any) -> Any:
    """FastAPI's OpenAPI model holds numeric bounds as floats, which turns the bigint maximum into 2**63
    (a value the API refuses): write integral bounds back as the exact integers they came from."""
    if isinstance(node, dict):
        return {
            key: _integral(value) if key in _BOUNDS else _exact_bounds(value) for key, value in node.items()
        }
    if isinstance(node, list):
        return [_exact_bounds(item) for item in node]
    return node


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return BIGINT_MAX if value == float(BIGINT_MAX) else int(value)
    return value


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(_: Request, error: GatewayError) -> JSONResponse:
        return error_response(
            error.status_code,
            error.code,
            error.message,
            error.headers,
            conversation_id=error.conversation_id,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        # Name the field and the rule; never echo the input (it may be long or private).
        parts = []
        for item in error.errors():
            location = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path"))
            parts.append(f"{location or 'body'}: {item.get('msg', 'invalid')}")
        return error_response(422, "invalid_request", "; ".join(parts) or "The request is not valid.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(error.status_code, "error")
        message = (
            error.detail
            if isinstance(error.detail, str) and error.status_code != 413
            else code.replace("_", " ")
        )
        return error_response(error.status_code, code, message, dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        logger.error("unhandled %s", type(error).__name__, exc_info=logger.isEnabledFor(logging.DEBUG))
        return error_response(500, "internal", "The chat service hit an internal error.")
