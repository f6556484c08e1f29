"""The gateway's HTTP surface. Routes stay thin: validation here, the turn in `turns.py`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Coroutine
from contextlib import suppress
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.auth import Principal
from shared.dates import DueParseError, check_zone
from shared.schemas import ConversationPage, MessagePage, TaskPage, TaskStatusFilter, ToolCallRecord
from shared.validation import BIGINT_MAX, Id, StorableText

from .deps import Chat, Limiter, PathUser, RequestId, Tasks
from .errors import Error, InvalidRequest, TurnError
from .ratelimit import RateLimiter
from .suggestions import Suggestion
from .turns import ClientGone, TurnEvent

T = TypeVar("T")


def _known_zone(value: str) -> str:
    try:
        return check_zone(value).key
    except DueParseError:
        raise ValueError("not an IANA time zone name, e.g. Europe/Berlin") from None


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_zone)]

router = APIRouter(prefix="/api/{user_id}", tags=["chat"])

# The settings' ceiling for `message_max_chars`; app.py states the configured limit in the document.
MESSAGE_MAX_CHARS_CEILING = 32_000
CURSOR_MAX_CHARS = 512
Cursor = Annotated[
    StorableText | None, Query(max_length=CURSOR_MAX_CHARS, description="`next_cursor` of the page before.")
]

_DESCRIPTIONS = {
    400: "The body could not be read.",
    401: "No valid bearer token.",
    403: "The path's user id is not the token's subject.",
    404: "No such conversation (or not the caller's).",
    409: "The data changed in the meantime, or the change needs confirmation.",
    413: "The body is over the size limit.",
    422: "A field is missing, of the wrong type, or out of range; the message names it. For a turn, also "
    "`turn_limit_exceeded` (too many steps) and `context_length_exceeded` (does not fit the model).",
    429: "Over the per-user rate limit; retry after `Retry-After` seconds.",
    502: "`model_error`: the language model gave no usable answer (empty, cut off, refused) after a retry.",
    503: "The task service, the language model or the identity provider's keys are unavailable.",
    504: "The turn or the task service took too long.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "Seconds to wait before the next message.",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def error_responses(*statuses: int, model: type[BaseModel] = Error) -> dict[int | str, dict[str, Any]]:
    """What a route documents for its failures: each status in the one error shape."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        responses[status] = {"model": model, "description": _DESCRIPTIONS[status]}
        if status in _HEADERS:
            responses[status]["headers"] = _HEADERS[status]
    return responses


_CHAT_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422, 429, 502, 503, 504, model=TurnError)
_READ_ERRORS = error_responses(401, 403, 413, 422, 503, 504)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: Id | None = Field(default=None, description="Omit to start a new conversation.")
    message: StorableText = Field(
        min_length=1, max_length=MESSAGE_MAX_CHARS_CEILING, description="What the user said."
    )
    timezone: TimeZoneName | None = Field(
        default=None,
        description="The user's IANA time zone (e.g. Europe/Berlin), for reading and showing dates; the "
        "task server remembers the last one given.",
        examples=["Europe/Berlin"],
    )


class ChatResponse(BaseModel):
    conversation_id: int
    response: str
    tool_calls: list[ToolCallRecord]
    suggestions: list[Suggestion] = Field(
        default_factory=list,
        description='Replies a client may offer as buttons, each sent as the message as it is: `["yes", '
        '"no"]` while a bulk change the turn previewed waits for confirmation, `["undo"]` after a change '
        "the `undo` tool can take back, else empty. Read from the tool results, not the reply's wording.",
    )


async def _admit(request: Request, body: ChatRequest, principal: Principal, limiter: RateLimiter) -> str:
    """The checks every chat turn passes before it starts: a real message within the limit, and the
    caller's rate limit (counted only for turns that would run)."""
    limit: int = request.app.state.settings.message_max_chars
    if not body.message.strip():
        raise InvalidRequest("message must not be blank.")
    if len(body.message) > limit:
        raise InvalidRequest(f"message is {len(body.message)} characters; the limit is {limit}.")
    await limiter.hit(principal.user_id)
    return body.message


@router.post(
    "/chat",
    response_model=ChatResponse,
    summary="Send a message and get the assistant's reply",
    responses=_CHAT_ERRORS,
)
async def chat(
    request: Request,
    body: ChatRequest,
    principal: PathUser,
    service: Chat,
    limiter: Limiter,
    request_id: RequestId,
) -> ChatResponse:
    message = await _admit(request, body, principal, limiter)
    outcome = await _unless_client_leaves(
        request,
        service.run_turn(principal, message, body.conversation_id, request_id, timezone=body.timezone),
    )
    return ChatResponse(
        conversation_id=outcome.conversation_id,
        response=outcome.response,
        tool_calls=outcome.tool_calls,
        suggestions=outcome.suggestions,
    )


@router.post(
    "/chat/stream",
    summary="The same turn as Server-Sent Events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "start, delta, tool_call, tool_result, then done (or error) events, each "
            "with a JSON body; `done` carries the fields of the `/chat` response (with `suggestions`).",
        },
        **_CHAT_ERRORS,
    },
)
async def chat_stream(
    request: Request,
    body: ChatRequest,
    principal: PathUser,
    service: Chat,
    limiter: Limiter,
    request_id: RequestId,
) -> StreamingResponse:
    message = await _admit(request, body, principal, limiter)
    # Starting the turn happens before the response begins, so its failures still get a proper status.
    events = await service.stream_turn(
        principal, message, body.conversation_id, request_id, timezone=body.timezone
    )
    return StreamingResponse(
        _sse(events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _unless_client_leaves(request: Request, turn: Coroutine[Any, Any, T]) -> T:
    """Runs the turn, but cancels it when the client disconnects: nobody would read the reply, and
    cancelling closes the model's stream, which stops a generation that may run for minutes."""
    running = asyncio.ensure_future(turn)
    watcher = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait({running, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if not running.done():
        running.cancel()
        with suppress(asyncio.CancelledError):
            await running
        raise ClientGone()  # Answered to nobody; uvicorn drops a response to a closed connection.
    return running.result()


async def _disconnect(request: Request) -> None:
    # The body has been read, so the next ASGI message is the disconnect, whenever it comes.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _sse(events: AsyncIterator[TurnEvent]) -> AsyncIterator[bytes]:
    async for event in events:
        yield f"event: {event.event}\ndata: {json.dumps(event.data, default=str)}\n\n".encode()


@router.get(
    "/tasks",
    response_model=TaskPage,
    summary="The user's tasks, oldest first (the trash is not listed)",
    responses=_READ_ERRORS,
)
async def tasks(
    principal: PathUser,
    tasks: Tasks,
    request_id: RequestId,
    status: Annotated[
        TaskStatusFilter, Query(description="`pending`, `completed`, or `all` (both).")
    ] = "all",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Cursor = None,
) -> TaskPage:
    assert principal.token is not None
    return await tasks.list_tasks(principal.token, status, limit, cursor, request_id)


@router.get(
    "/conversations",
    response_model=ConversationPage,
    summary="The user's conversations, latest first",
    responses=_READ_ERRORS,
)
async def conversations(
    principal: PathUser,
    tasks: Tasks,
    request_id: RequestId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> ConversationPage:
    assert principal.token is not None
    return await tasks.list_conversations(principal.token, limit, cursor, request_id)


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=MessagePage,
    summary="A conversation's messages, oldest first; `next_cursor` pages back in time",
    responses={**_READ_ERRORS, **error_responses(404)},
)
async def messages(
    principal: PathUser,
    tasks: Tasks,
    request_id: RequestId,
    conversation_id: Annotated[int, Path(gt=0, le=BIGINT_MAX)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> MessagePage:
    assert principal.token is not None
    return await tasks.conversation_messages(principal.token, conversation_id, limit, cursor, request_id)
