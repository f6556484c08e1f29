"""Conversation storage for the chat gateway.

These tools carry the tag `conversation`; the gateway hides them from its agent with a tool filter,
and any other client can filter them out by the same tag. Like the task tools, they act only on the
verified caller's own conversations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastmcp import Context, FastMCP
from fastmcp.tools import FunctionTool, Tool
from mcp_types import ToolAnnotations
from pydantic import Field, StrictInt

from shared.schemas import (
    TOOL_CALL_MAX_DEPTH,
    ConversationPage,
    MessagePage,
    ReplyRecorded,
    ToolCallInput,
    TurnStarted,
)
from shared.validation import Id

from ..context import read_only, user_session
from ..errors import InvalidArgument
from ..models import MESSAGE_MAX
from ..toolkit import STORABLE, CursorText, IdempotencyKey, hints, write
from .repository import ConversationRepository
from .service import ConversationService

CONVERSATION_TAG = "conversation"
MAX_TOOL_CALLS_PER_REPLY = 1000
MAX_TOOL_CALLS_BYTES = 4 * 1024 * 1024

ConversationId = Annotated[Id, Field(description="The conversation's id.")]
PageCursor = Annotated[CursorText | None, Field(description="`next_cursor` from a previous call.")]
ToolCalls = Annotated[
    list[ToolCallInput],
    Field(
        max_length=MAX_TOOL_CALLS_PER_REPLY,
        description="Tool calls made while producing the reply: at most 1000 and 4 MiB of JSON, each "
        f"record's arguments and result nested at most {TOOL_CALL_MAX_DEPTH} deep, with no NUL "
        "characters, lone surrogates or integers beyond 64 bits.",
    ),
]


def tool_call_records(tool_calls: Sequence[ToolCallInput]) -> list[dict[str, Any]]:
    """The records as stored, once their JSON fits MAX_TOOL_CALLS_BYTES (pydantic cannot bound a size)."""
    records = [call.model_dump(mode="json") for call in tool_calls]
    size = len(json.dumps(records))
    if size > MAX_TOOL_CALLS_BYTES:
        raise InvalidArgument(f"tool_calls is {size} bytes; the limit is {MAX_TOOL_CALLS_BYTES}.")
    return records


async def start_turn(
    ctx: Context,
    message: Annotated[
        str, Field(min_length=1, max_length=MESSAGE_MAX, description="The user's message."), STORABLE
    ],
    conversation_id: Annotated[
        Id | None,
        Field(description="Continue this conversation; omit to start a new one."),
    ] = None,
    history_limit: Annotated[
        StrictInt,
        Field(ge=1, le=200, description="How many of the latest messages to return, this one included."),
    ] = 20,
) -> TurnStarted:
    """Store the user's message (in a new or an existing conversation) and return the recent window."""
    async with user_session(ctx, atomic=False) as (user_id, session):
        return await ConversationService(ConversationRepository(session), user_id).start_turn(
            message, conversation_id, history_limit
        )


async def record_reply(
    ctx: Context,
    conversation_id: ConversationId,
    content: Annotated[
        str, Field(max_length=MESSAGE_MAX, description="The assistant's reply text."), STORABLE
    ],
    tool_calls: ToolCalls = [],  # noqa: B006 - pydantic copies defaults; FastMCP needs a literal default.
    idempotency_key: IdempotencyKey = None,
) -> ReplyRecorded:
    """Store the assistant's reply to the latest user message, with the tool calls it made.

    With `idempotency_key`, a retry (after a lost connection, on any replica) stores nothing twice."""
    arguments = {
        "conversation_id": conversation_id,
        "content": content,
        "tool_calls": tool_call_records(tool_calls),
    }
    return await write(
        ctx,
        "record_reply",
        idempotency_key,
        arguments,
        ReplyRecorded,
        lambda session, user_id, _: ConversationService(
            ConversationRepository(session), user_id
        ).record_reply(conversation_id, content, tool_calls),
    )


async def list_conversations(
    ctx: Context,
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 20,
    cursor: PageCursor = None,
) -> ConversationPage:
    """List the user's conversations, most recently active first."""
    return await read_only(
        ctx,
        lambda user_id, session: ConversationService(ConversationRepository(session), user_id).list(
            limit, cursor
        ),
    )


async def get_conversation_messages(
    ctx: Context,
    conversation_id: ConversationId,
    limit: Annotated[StrictInt, Field(ge=1, le=200)] = 50,
    cursor: PageCursor = None,
) -> MessagePage:
    """Read a conversation's messages: the latest `limit`, oldest first; `next_cursor` pages back in time."""
    return await read_only(
        ctx,
        lambda user_id, session: ConversationService(ConversationRepository(session), user_id).messages(
            conversation_id, limit, cursor
        ),
    )


def register_conversation_tools(mcp: FastMCP) -> list[Tool]:
    writes = hints("Conversation write")
    reads = hints("Conversation read", read_only=True, idempotent=True)
    specs: list[tuple[Callable[..., Any], ToolAnnotations]] = [
        (start_turn, writes),
        (record_reply, writes),
        (list_conversations, reads),
        (get_conversation_messages, reads),
    ]
    return [
        mcp.add_tool(FunctionTool.from_function(fn, tags={CONVERSATION_TAG}, annotations=annotations))
        for fn, annotations in specs
    ]
