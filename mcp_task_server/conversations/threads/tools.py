"""ChatKit thread storage for the chat gateway's POST /chatkit.

A ChatKit thread is a conversation and its items are the conversation's messages, so /chat and /chatkit
share one history. Like the other conversation tools these carry the tag `conversation` (the agent never
sees them) and act only on the verified caller's threads: someone else's reads exactly like a missing one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastmcp import Context, FastMCP
from fastmcp.tools import FunctionTool, Tool
from mcp_types import ToolAnnotations
from pydantic import AfterValidator, Field, StrictInt
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schemas import (
    THREAD_ID_PATTERN,
    ItemDeleted,
    ItemPage,
    ItemSaved,
    ThreadDeleted,
    ThreadOrder,
    ThreadOut,
    ThreadPage,
    ThreadWindow,
    check_storable_json,
)

from ...context import read_only, user_session
from ...models import CONVERSATION_TITLE_MAX, ITEM_KIND_MAX
from ...toolkit import STORABLE, IdempotencyKey, hints, write
from ..tools import CONVERSATION_TAG, ToolCalls, tool_call_records
from .repository import ThreadRepository
from .service import ThreadService, is_chat_item_id

THREAD_META_MAX_BYTES = 16 * 1024
ITEM_MAX_BYTES = 256 * 1024
THREAD_STATUSES = ("active", "locked", "closed")
_ID = re.compile(THREAD_ID_PATTERN)
_KIND = re.compile(rf"[A-Za-z0-9_.-]{{1,{ITEM_KIND_MAX}}}")


def _json_bytes(value: Any) -> int:
    """Size as stored: UTF-8 JSON (checked storable first, so it encodes)."""
    return len(json.dumps(value, ensure_ascii=False).encode())


def _check_size(value: Any, limit: int) -> None:
    size = _json_bytes(value)
    if size > limit:
        raise ValueError(f"is {size} bytes of JSON; the limit is {limit}")


def _check_thread_json(value: dict[str, Any]) -> dict[str, Any]:
    """A thread's status or metadata: storable JSON of at most THREAD_META_MAX_BYTES (read on every turn)."""
    check_storable_json(value)
    _check_size(value, THREAD_META_MAX_BYTES)
    return value


def _check_status(value: dict[str, Any]) -> dict[str, Any]:
    _check_thread_json(value)
    if value.get("type") not in THREAD_STATUSES:
        raise ValueError('`type` must be "active", "locked" or "closed"')
    return value


def _check_item(item: dict[str, Any]) -> dict[str, Any]:
    """A ChatKit item: storable JSON of at most ITEM_MAX_BYTES with an `id` and a `type` it is stored by."""
    check_storable_json(item)
    item_id, kind = item.get("id"), item.get("type")
    if not isinstance(item_id, str) or not _ID.fullmatch(item_id):
        raise ValueError("`id` must be 1-64 ASCII letters, digits, '_' or '-'")
    if is_chat_item_id(item_id):
        raise ValueError("`id` chat_<number> is reserved for messages from /chat")
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise ValueError(f"`type` must be 1-{ITEM_KIND_MAX} ASCII letters, digits, '_', '.' or '-'")
    _check_size(item, ITEM_MAX_BYTES)
    return item


# A thread id or an item id: what ChatKit makes ("thr_…", "msg_…"), so never anything SQL or a log minds.
IdText = Annotated[str, Field(pattern=THREAD_ID_PATTERN)]
ThreadId = Annotated[IdText, Field(description="The ChatKit thread id.")]
ThreadTitle = Annotated[str, Field(max_length=CONVERSATION_TITLE_MAX), STORABLE]
Status = Annotated[dict[str, Any], AfterValidator(_check_status)]
Metadata = Annotated[dict[str, Any], AfterValidator(_check_thread_json)]
Item = Annotated[dict[str, Any], AfterValidator(_check_item)]
HistoryLimit = Annotated[
    StrictInt, Field(ge=0, le=200, description="Also return this many of the latest messages.")
]


def _service(session: AsyncSession, user_id: str) -> ThreadService:
    return ThreadService(ThreadRepository(session), user_id)


async def save_thread(
    ctx: Context,
    thread_id: ThreadId,
    title: Annotated[ThreadTitle | None, Field(description="Omit to keep the title.")] = None,
    status: Annotated[
        Status | None, Field(description='ChatKit status: {"type": "active"|"locked"|"closed", ...}.')
    ] = None,
    metadata: Annotated[Metadata | None, Field(description="ChatKit metadata; omit to keep it.")] = None,
) -> ThreadOut:
    """Create the thread, or update the given fields of an existing one."""
    async with user_session(ctx, atomic=False) as (user_id, session):
        return await _service(session, user_id).save(thread_id, title, status, metadata)


async def get_thread(ctx: Context, thread_id: ThreadId, history_limit: HistoryLimit = 0) -> ThreadWindow:
    """Read a thread, with its latest messages (oldest first) when `history_limit` > 0."""
    return await read_only(
        ctx, lambda user_id, session: _service(session, user_id).get(thread_id, history_limit)
    )


async def list_threads(
    ctx: Context,
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 20,
    after: Annotated[IdText | None, Field(description="The last thread id of the previous page.")] = None,
    order: ThreadOrder = "desc",
) -> ThreadPage:
    """List the user's threads by creation, newest first unless `order` is "asc"."""
    return await read_only(ctx, lambda user_id, session: _service(session, user_id).list(limit, after, order))


async def delete_thread(ctx: Context, thread_id: ThreadId) -> ThreadDeleted:
    """Delete a thread (a conversation) with all its items."""
    async with user_session(ctx, atomic=False) as (user_id, session):
        return await _service(session, user_id).delete(thread_id)


async def save_thread_item(
    ctx: Context,
    thread_id: ThreadId,
    item: Annotated[
        Item, Field(description="The whole ChatKit item (with `id` and `type`), at most 256 KiB of JSON.")
    ],
    tool_calls: ToolCalls = [],  # noqa: B006 - pydantic copies defaults; FastMCP needs a literal default.
    history_limit: HistoryLimit = 0,
    idempotency_key: IdempotencyKey = None,
) -> ItemSaved:
    """Add an item to a thread, or replace the item with its id in place.

    User and assistant messages are the conversation's messages (their text is derived from the item)."""
    records = tool_call_records(tool_calls)
    arguments = {"thread_id": thread_id, "item": item, "tool_calls": records, "history_limit": history_limit}
    return await write(
        ctx,
        "save_thread_item",
        idempotency_key,
        arguments,
        ItemSaved,
        lambda session, user_id, _: _service(session, user_id).save_item(
            thread_id, item, records, history_limit
        ),
    )


async def list_thread_items(
    ctx: Context,
    thread_id: ThreadId,
    after: Annotated[IdText | None, Field(description="The last item id of the previous page.")] = None,
    limit: Annotated[StrictInt, Field(ge=1, le=200)] = 20,
    order: ThreadOrder = "asc",
    item_id: Annotated[
        IdText | None, Field(description="Read only this item (an empty page if absent).")
    ] = None,
) -> ItemPage:
    """List a thread's items in order; /chat's messages have the ids chat_<message id>."""
    return await read_only(
        ctx,
        lambda user_id, session: _service(session, user_id).items(thread_id, after, limit, order, item_id),
    )


async def delete_thread_item(
    ctx: Context, thread_id: ThreadId, item_id: Annotated[IdText, Field(description="The item's id.")]
) -> ItemDeleted:
    """Delete one item of a thread; `deleted` is false when it was not there."""
    async with user_session(ctx, atomic=False) as (user_id, session):
        return await _service(session, user_id).delete_item(thread_id, item_id)


def register_thread_tools(mcp: FastMCP) -> list[Tool]:
    specs: list[tuple[Callable[..., Any], ToolAnnotations]] = [
        (save_thread, hints("Save thread", destructive=True, idempotent=True)),
        (get_thread, hints("Get thread", read_only=True, idempotent=True)),
        (list_threads, hints("List threads", read_only=True, idempotent=True)),
        (delete_thread, hints("Delete thread", destructive=True, idempotent=True)),
        (save_thread_item, hints("Save thread item", destructive=True, idempotent=True)),
        (list_thread_items, hints("List thread items", read_only=True, idempotent=True)),
        (delete_thread_item, hints("Delete thread item", destructive=True, idempotent=True)),
    ]
    return [
        mcp.add_tool(FunctionTool.from_function(fn, tags={CONVERSATION_TAG}, annotations=annotations))
        for fn, annotations in specs
    ]
