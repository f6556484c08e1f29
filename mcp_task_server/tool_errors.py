"""The one shape of a failed tool call, and the middleware that maps every failure to it."""

from __future__ import annotations

from typing import Any

from fastmcp.exceptions import NotFoundError, ValidationError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import ToolResult
from mcp_types import CallToolRequestParams, TextContent
from pydantic import ValidationError as PydanticValidationError

from shared.schemas import ERROR_META_KEY

from .errors import TaskServerError


def error_result(code: str, message: str, details: dict[str, Any] | None = None) -> ToolResult:
    """The one shape of a failed tool call: `isError`, the message as text, and the stable code in the
    result's `_meta`. Not in `structuredContent`: clients such as the MCP Inspector validate that against
    the tool's output schema even for errors, and the error would then be hidden behind a schema failure."""
    return ToolResult(
        content=[TextContent(type="text", text=message)],
        meta={ERROR_META_KEY: {"code": code, "message": message, **(details or {})}},
        is_error=True,
    )


def describe_validation_error(error: PydanticValidationError) -> str:
    """`title: String should have at most 200 characters` — names the field and the rule, and never
    echoes the input back (it may be long, or private)."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"]) or "arguments"
        parts.append(f"{location}: {item['msg']}")
    return "Invalid arguments. " + "; ".join(parts) + "."


class ErrorMiddleware(Middleware):
    """Map every tool failure to an MCP tool error with a stable code, in one place."""

    async def on_call_tool(
        self,
        context: MiddlewareContext[CallToolRequestParams],
        call_next: CallNext[CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        try:
            return await call_next(context)
        except TaskServerError as e:
            return error_result(e.code, e.message, e.details)
        except ValidationError as e:
            cause = e.__cause__
            if isinstance(cause, PydanticValidationError):
                return error_result("invalid_argument", describe_validation_error(cause))
            return error_result("invalid_argument", "Invalid arguments.")
        except NotFoundError:
            # An unknown tool name: the client's mistake, in the same shape as every other error.
            name = context.message.name
            shown = name if len(name) <= 64 else name[:64] + "..."
            return error_result("not_found", f"There is no tool named {shown!r}; tools/list shows the tools.")
