"""POST /chatkit: admit the request as /chat admits a turn, then let ChatKit's server answer it.

Before ChatKit sees anything: the bearer token (the same verification as /chat), the request parsed
(an invalid one is a 400 in the one error shape; ChatKit itself would raise, a 500), the operations this
server does not offer refused, and for a message the same limits and rate limit as a /chat turn. A
streamed answer starts only after its first event is ready, so a missing or foreign thread is still a
404; a failure after that ends the stream with a ChatKit error event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from chatkit.server import StreamingResult
from chatkit.types import (
    ChatKitReq,
    ItemsFeedbackReq,
    ItemsListReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsDeleteReq,
    ThreadsGetByIdReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadsUpdateReq,
    UserMessageInput,
)
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import TypeAdapter, ValidationError

from shared.dates import DueParseError, check_zone

from ..api import error_responses
from ..deps import Chat, CurrentPrincipal, Limiter, RequestId, Tasks
from ..errors import BadRequest, GatewayError, InvalidRequest
from .context import ChatKitContext
from .server import TodoChatKitServer
from .threads import ThreadsClient

logger = logging.getLogger(__name__)


class _WithoutTraceback(logging.Filter):
    """openai-chatkit logs every exception that leaves a stream with its traceback (`logger.exception`),
    our 404s included. Keep the line, name the exception, drop the traceback: the logs stay one line per
    event, and a traceback's frames can carry request data."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, BaseException):
            # `logger.exception(e)`: the message would be str(e), which may quote the request.
            record.msg, record.args = f"chatkit: {type(record.msg).__name__}", None
        if record.exc_info and record.exc_info[0] is not None:
            record.msg = f"{record.getMessage()} ({record.exc_info[0].__name__})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("chatkit").addFilter(_WithoutTraceback())

router = APIRouter(tags=["chatkit"])

_REQUESTS: TypeAdapter[Any] = TypeAdapter(ChatKitReq)
# What this server answers; attachments, transcription, client tools, structured input and widget actions
# are refused with a 400 rather than failing inside ChatKit.
_SUPPORTED = (
    ThreadsCreateReq,
    ThreadsAddUserMessageReq,
    ThreadsGetByIdReq,
    ThreadsListReq,
    ThreadsUpdateReq,
    ThreadsDeleteReq,
    ThreadsRetryAfterItemReq,
    ItemsListReq,
    ItemsFeedbackReq,
)
_TURNS = (ThreadsCreateReq, ThreadsAddUserMessageReq, ThreadsRetryAfterItemReq)


def chatkit_server(request: Request) -> TodoChatKitServer:
    server: TodoChatKitServer = request.app.state.chatkit
    return server


@router.post(
    "/chatkit",
    summary="The ChatKit server protocol (threads, items, streamed replies)",
    openapi_extra={
        # Read by hand, not as a FastAPI parameter: a bad value must be ChatKit's 400, not FastAPI's 422.
        "parameters": [
            {
                "name": "X-Timezone",
                "in": "header",
                "required": False,
                "description": "The user's IANA time zone (e.g. Europe/Berlin); else `metadata.timezone`.",
                "schema": {"type": "string", "maxLength": 64},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "A ChatKit request: `type` (threads.create, threads.add_user_message, "
                        "threads.get_by_id, threads.list, threads.update, threads.delete, "
                        "threads.retry_after_item, items.list, items.feedback) and its `params`.",
                    }
                }
            },
        },
    },
    responses={
        200: {
            "content": {"application/json": {}, "text/event-stream": {}},
            "description": "JSON for reads and updates; Server-Sent Events (ChatKit's stream) for a message.",
        },
        **error_responses(400, 401, 404, 413, 429, 503, 504),
    },
)
async def chatkit(
    request: Request,
    principal: CurrentPrincipal,
    chat: Chat,
    tasks: Tasks,
    limiter: Limiter,
    request_id: RequestId,
) -> Response:
    body = await request.body()
    parsed = _parse(body)
    assert principal.token is not None
    context = ChatKitContext(
        principal,
        ThreadsClient(tasks, principal.token, request_id),
        request_id,
        _zone(request.headers.get("x-timezone", parsed.metadata.get("timezone"))),
    )
    try:
        if isinstance(parsed, _TURNS):
            if not isinstance(parsed, ThreadsRetryAfterItemReq):
                text = _admit_message(parsed.params.input, request.app.state.settings.message_max_chars)
                context.tool_tokens = await chat.check_fits(principal, text, request_id)
            await limiter.hit(principal.user_id)
        result = await chatkit_server(request).process(body, context)
        if not isinstance(result, StreamingResult):
            return Response(result.json, media_type="application/json")
        events = aiter(result)
        first = await anext(events, b"")
    except InvalidRequest as e:
        raise BadRequest(e.message) from e
    except ValueError as e:
        # ChatKit's own refusals ("Item ... is not a user message"): ids, never the user's text.
        raise BadRequest("The request does not fit the thread.") from e
    return StreamingResponse(
        _rest(first, events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _parse(body: bytes) -> Any:
    try:
        parsed = _REQUESTS.validate_json(body)
    except ValidationError as e:
        location = e.errors()[0]["loc"] if e.errors() else ()
        where = ".".join(str(part) for part in location if not isinstance(part, int))
        raise BadRequest(f"Not a ChatKit request{f' ({where})' if where else ''}.") from None
    if not isinstance(parsed, _SUPPORTED):
        raise BadRequest(f"{parsed.type} is not supported by this server.")
    return parsed


def _admit_message(message: UserMessageInput, limit: int) -> str:
    if message.attachments:
        raise BadRequest("Attachments are not supported.")
    text = "".join(part.text for part in message.content)
    if not text.strip():
        raise BadRequest("The message must not be blank.")
    if len(text) > limit:
        raise BadRequest(f"The message is {len(text)} characters; the limit is {limit}.")
    return text


def _zone(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise BadRequest("timezone: not an IANA time zone name, e.g. Europe/Berlin.")
    try:
        return check_zone(str(value)).key
    except DueParseError:
        raise BadRequest("timezone: not an IANA time zone name, e.g. Europe/Berlin.") from None


async def _rest(first: bytes, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The stream after its first event; a failure ends it with a ChatKit error event, not a cut."""
    if first:
        yield first
    try:
        async for chunk in events:
            yield chunk
    except GatewayError as error:
        yield _error_event(error.message)
    except Exception as error:  # Logged by ChatKit; the client still gets a clean end.
        logger.warning("chatkit stream failed: %s", type(error).__name__)
        yield _error_event(GatewayError.default_message)


def _error_event(message: str) -> bytes:
    event = {"type": "error", "code": "custom", "message": message, "allow_retry": True}
    return b"data: " + json.dumps(event).encode() + b"\n\n"
