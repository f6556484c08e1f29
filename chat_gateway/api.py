"""The gateway's HTTP surface. Routes stay thin: validation here, the turn in `turns.py`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from shared.auth import Principal
from shared.schemas import ConversationPage, MessagePage, ToolCallRecord

from .deps import Chat, Limiter, PathUser, RequestId, Tasks
from .errors import InvalidRequest
from .ratelimit import RateLimiter
from .turns import TurnEvent

router = APIRouter(prefix="/api/{user_id}", tags=["chat"])

ConversationId = Annotated[int, Field(gt=0, le=2**63 - 1)]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: ConversationId | None = Field(
        default=None, description="Omit to start a new conversation."
    )
    message: str = Field(min_length=1, max_length=32_000, description="What the user said.")


class ChatResponse(BaseModel):
    conversation_id: int
    response: str
    tool_calls: list[ToolCallRecord]


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


@router.post("/chat", response_model=ChatResponse, summary="Send a message and get the assistant's reply")
async def chat(
    request: Request,
    body: ChatRequest,
    principal: PathUser,
    service: Chat,
    limiter: Limiter,
    request_id: RequestId,
) -> ChatResponse:
    message = await _admit(request, body, principal, limiter)
    outcome = await service.run_turn(principal, message, body.conversation_id, request_id)
    return ChatResponse(
        conversation_id=outcome.conversation_id, response=outcome.response, tool_calls=outcome.tool_calls
    )


@router.post(
    "/chat/stream",
    summary="The same turn as Server-Sent Events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "start, delta, tool_call, "
            "tool_result, then done (or error) events, each with a JSON body.",
        }
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
    events = await service.stream_turn(principal, message, body.conversation_id, request_id)
    return StreamingResponse(
        _sse(events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _sse(events: AsyncIterator[TurnEvent]) -> AsyncIterator[bytes]:
    async for event in events:
        yield f"event: {event.event}\ndata: {json.dumps(event.data, default=str)}\n\n".encode()


@router.get(
    "/conversations", response_model=ConversationPage, summary="The user's conversations, latest first"
)
async def conversations(
    principal: PathUser,
    tasks: Tasks,
    request_id: RequestId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ConversationPage:
    assert principal.token is not None
    return await tasks.list_conversations(principal.token, limit, cursor, request_id)


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=MessagePage,
    summary="A conversation's messages, oldest first; `next_cursor` pages back in time",
)
async def messages(
    principal: PathUser,
    tasks: Tasks,
    request_id: RequestId,
    conversation_id: Annotated[int, Path(gt=0, le=2**63 - 1)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> MessagePage:
    assert principal.token is not None
    return await tasks.conversation_messages(principal.token, conversation_id, limit, cursor, request_id)
