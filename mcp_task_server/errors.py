"""The task server's one exception tree.

Every failure a client can see is one of these, with a stable `code` and a short message a model can
act on. `tool_errors.ErrorMiddleware` turns them into MCP tool errors (`isError: true`) in one place.
They subclass FastMCP's `ToolError` so FastMCP passes them through untouched and logs them without a
traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastmcp.exceptions import ToolError


class TaskServerError(ToolError):
    code = "internal"
    default_message = "Something went wrong on the task server."

    def __init__(
        self,
        message: str | None = None,
        *,
        log_level: int = logging.INFO,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        # Extra machine-readable facts beside code and message (a conflict's current task).
        self.details = details or {}
        super().__init__(self.message, log_level=log_level)


class InvalidArgument(TaskServerError):
    code = "invalid_argument"
    default_message = "The arguments are not valid."


class NotFound(TaskServerError):
    """Also what another user's task or conversation looks like: existence is never revealed."""

    code = "not_found"
    default_message = "Not found."


class Conflict(TaskServerError):
    """The task is not in the state the call expected: a stale `expected_version`, a bulk set that
    changed since its preview, or an undo that a later change overtook. `details` carries what is in
    the way (the current task, or the tasks that changed)."""

    code = "conflict"
    default_message = "The task changed since you last read it. Read it again and retry."


class ConfirmationRequired(TaskServerError):
    """A bulk call's confirmation token is unknown, expired, used, or for another action."""

    code = "confirmation_required"
    default_message = (
        "This confirmation token is not valid (expired, already used, or for another action). "
        "Call again without confirmation_token to get a new preview and ask the user."
    )


class Unauthenticated(TaskServerError):
    code = "unauthenticated"
    default_message = "No verified user for this call."


class StoreUnavailable(TaskServerError):
    code = "unavailable"
    default_message = "The task store is temporarily unavailable. Try again in a moment."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, log_level=logging.WARNING)


class InternalError(TaskServerError):
    code = "internal"
    default_message = "The task server hit an internal error. Try again; if it persists, report it."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, log_level=logging.ERROR)
