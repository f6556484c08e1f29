"""The gateway's one exception tree. `app.py` maps it to `{"error": {"code", "message"}}` in one place."""

from __future__ import annotations

from pydantic import BaseModel, Field


class GatewayError(Exception):
    status_code = 500
    code = "internal"
    default_message = "The chat service hit an internal error."

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.headers = headers or {}
        # Set when a chat turn failed after it was stored, so the client can open that conversation.
        self.conversation_id: int | None = None
        # Why, for the log only: a classification and the upstream status, never the user's text.
        self.reason: str = ""
        super().__init__(self.message)


class Unauthenticated(GatewayError):
    status_code = 401
    code = "unauthenticated"
    default_message = "A valid bearer token is required."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(GatewayError):
    status_code = 403
    code = "forbidden"
    default_message = "The path's user id is not the signed-in user."


class NotFound(GatewayError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class InvalidRequest(GatewayError):
    status_code = 422
    code = "invalid_request"
    default_message = "The request is not valid."


class BadRequest(InvalidRequest):
    """An invalid request where the protocol wants 400 (ChatKit's): the same code and shape."""

    status_code = 400


class Conflict(GatewayError):
    status_code = 409
    code = "conflict"
    default_message = "The data changed in the meantime. Read it again and retry."


class ConfirmationRequired(GatewayError):
    status_code = 409
    code = "confirmation_required"
    default_message = "This change needs the user's confirmation first."


class TurnLimitExceeded(GatewayError):
    status_code = 422
    code = "turn_limit_exceeded"
    default_message = (
        "The assistant needed too many steps for this message and was stopped. Try a simpler request."
    )


class RateLimited(GatewayError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many messages. Wait a moment and try again."

    def __init__(self, retry_after: int) -> None:
        super().__init__(headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class DependencyUnavailable(GatewayError):
    status_code = 503
    code = "unavailable"
    default_message = "The task service is unavailable. Try again in a moment."


class DependencyTimeout(GatewayError):
    status_code = 504
    code = "timeout"
    default_message = "The request took too long and was stopped. Try again."


class ModelUnavailable(GatewayError):
    status_code = 503
    code = "model_unavailable"
    default_message = "The language model is unavailable. Try again in a moment."


class ContextLengthExceeded(GatewayError):
    status_code = 422
    code = "context_length_exceeded"
    default_message = "This conversation no longer fits the language model. Start a new conversation."


class ModelError(GatewayError):
    """The model broke the protocol (an empty reply, a reply cut off at its length limit, a request the
    model server refused) in a way one retry did not fix."""

    status_code = 502
    code = "model_error"
    default_message = "The language model gave no usable answer. Try rephrasing, or try again."


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable and machine-readable, e.g. `invalid_request`, `rate_limited`.")
    message: str = Field(description="For people; names the field at fault. Never echoes the input.")


class Error(BaseModel):
    """The one error shape every route answers with."""

    error: ErrorDetail


class TurnError(BaseModel):
    """A chat turn's error: `conversation_id` is there when the turn was stored before it failed."""

    error: ErrorDetail
    conversation_id: int | None = Field(default=None, description="The conversation the turn was stored in.")
