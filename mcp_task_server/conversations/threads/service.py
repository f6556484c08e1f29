"""The rules of ChatKit threads: which stored message is which item, and what an item's text is.

The server derives a message's role and text from the ChatKit item itself, so the item stays the single
source of truth: /chat and the agent read the text, ChatKit reads the item back whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from shared.schemas import (
    ItemDeleted,
    ItemOut,
    ItemPage,
    ItemRole,
    ItemSaved,
    MessageOut,
    ThreadDeleted,
    ThreadOut,
    ThreadPage,
    ThreadWindow,
)
from shared.validation import BIGINT_MAX

from ...errors import InvalidArgument, NotFound
from ...models import CONVERSATION_TITLE_MAX, MESSAGE_MAX
from ..service import conversation_title
from .repository import ItemKey, Order, ThreadRepository

# A message from /chat has no item id of its own: as an item it is `chat_<message id>`. Such ids are
# reserved, so a saved item can never take the name of a /chat message.
CHAT_ITEM_PREFIX = "chat_"
_CHAT_ITEM_ID = re.compile(r"chat_([0-9]+)")
# The ChatKit item types that are the conversation's messages; every other type is stored as an `item`.
_ROLES: Mapping[str, ItemRole] = {"user_message": "user", "assistant_message": "assistant"}


def _thread_not_found(thread_id: str) -> NotFound:
    """The same answer for a missing thread and someone else's: existence is never revealed."""
    return NotFound(f"Thread {thread_id} was not found.")


def is_chat_item_id(item_id: str) -> bool:
    return _CHAT_ITEM_ID.fullmatch(item_id) is not None


def item_key(item_id: str) -> ItemKey:
    """Find `chat_<n>` as message n (when it has no item id), any other id as a saved item's."""
    chat = _CHAT_ITEM_ID.fullmatch(item_id)
    if chat is None:
        return ItemKey(item_id=item_id)
    number = int(chat[1])
    # A number beyond bigint names no message; 0 is no message id either, and matches nothing.
    return ItemKey(message_id=number if number <= BIGINT_MAX else 0)


@dataclass(frozen=True, slots=True)
class ItemFields:
    """What a ChatKit item is stored as, besides its JSON. `title` is the thread's title from a user
    message, for a thread that has none yet."""

    item_id: str
    kind: str
    role: ItemRole
    content: str
    title: str | None


def _text(item: Mapping[str, Any]) -> str:
    """A message item's text: the `text` of each content part, in order (a part without one adds none)."""
    parts = item.get("content")
    if not isinstance(parts, list):
        return ""
    return "".join(
        part["text"] for part in parts if isinstance(part, dict) and isinstance(part.get("text"), str)
    )


def item_fields(item: Mapping[str, Any]) -> ItemFields:
    """Derive role, text and title from an item whose `id` and `type` the tool has checked."""
    item_id, kind = item["id"], item["type"]
    role = _ROLES.get(kind, "item")
    if role == "item":
        return ItemFields(item_id, kind, role, "", None)
    text = _text(item)
    content = text
    quoted = item.get("quoted_text")
    if role == "user" and isinstance(quoted, str) and quoted:
        content = f"> {quoted}\n\n{text}"
    if len(content) > MESSAGE_MAX:
        raise InvalidArgument(
            f"item: the message's text is {len(content)} characters; the limit is {MESSAGE_MAX}."
        )
    if role == "assistant":
        return ItemFields(item_id, kind, role, content, None)
    if not content.strip():
        raise InvalidArgument("item: a user message must have text (a `content` part with `text`).")
    title = conversation_title(text if text.strip() else content)[:CONVERSATION_TITLE_MAX]
    return ItemFields(item_id, kind, role, content, title)


def _thread_out(row: Row[Any]) -> ThreadOut:
    meta = row.thread_meta or {}
    return ThreadOut(
        thread_id=row.thread_id,
        conversation_id=row.conversation_id,
        title=row.title,
        created_at=row.created_at,
        updated_at=row.updated_at,
        **{field: meta[field] for field in ("status", "metadata") if field in meta},
    )


def _item_out(thread_id: str, row: Row[Any]) -> ItemOut:
    return ItemOut(
        item_id=row.item_id or f"{CHAT_ITEM_PREFIX}{row.message_id}",
        thread_id=thread_id,
        message_id=row.message_id,
        role=row.role,
        kind=row.kind,
        content=row.content,
        item=row.item,
        tool_calls=row.tool_calls,
        created_at=row.created_at,
    )


def _messages(window: list[dict[str, Any]]) -> list[MessageOut]:
    return [MessageOut.model_validate(message) for message in window]


class ThreadService:
    def __init__(self, repo: ThreadRepository, user_id: str) -> None:
        self.repo = repo
        self.user_id = user_id

    async def save(
        self,
        thread_id: str,
        title: str | None,
        status: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
    ) -> ThreadOut:
        meta = {
            key: value for key, value in (("status", status), ("metadata", metadata)) if value is not None
        }
        row = await self.repo.save(self.user_id, thread_id, title, meta)
        if row is None:
            raise _thread_not_found(thread_id)
        return _thread_out(row)

    async def get(self, thread_id: str, history_limit: int) -> ThreadWindow:
        row = await self.repo.get(self.user_id, thread_id, history_limit)
        if row is None:
            raise _thread_not_found(thread_id)
        return ThreadWindow(thread=_thread_out(row), messages=_messages(row.messages))

    async def list(self, limit: int, after: str | None, order: Order) -> ThreadPage:
        rows = await self.repo.page(self.user_id, order, after, limit + 1)
        if after is not None:
            if not rows:
                raise InvalidArgument(f"after: {after} is not one of your threads.")
            rows = [row for row in rows if row.conversation_id is not None]
        threads = [_thread_out(row) for row in rows[:limit]]
        return ThreadPage(
            threads=threads, has_more=len(rows) > limit, after=threads[-1].thread_id if threads else None
        )

    async def delete(self, thread_id: str) -> ThreadDeleted:
        if not await self.repo.delete(self.user_id, thread_id):
            raise _thread_not_found(thread_id)
        return ThreadDeleted(thread_id=thread_id, deleted=True)

    async def save_item(
        self,
        thread_id: str,
        item: dict[str, Any],
        tool_calls: Sequence[dict[str, Any]],
        history_limit: int,
    ) -> ItemSaved:
        fields = item_fields(item)
        values = {
            "item_id": fields.item_id,
            "kind": fields.kind,
            "role": fields.role,
            "content": fields.content,
            "title": fields.title,
            "item": item,
        }
        row = await self.repo.save_item(self.user_id, thread_id, values, tool_calls, history_limit)
        if row is None:
            raise _thread_not_found(thread_id)
        return ItemSaved(
            thread_id=thread_id,
            conversation_id=row.conversation_id,
            message_id=row.message_id,
            created=row.created,
            title=row.title,
            messages=_messages(row.messages),
        )

    async def items(
        self, thread_id: str, after: str | None, limit: int, order: Order, item_id: str | None
    ) -> ItemPage:
        if item_id is not None:
            rows = await self.repo.items(self.user_id, thread_id, order, 1, item=item_key(item_id))
        else:
            anchor = item_key(after) if after is not None else None
            rows = await self.repo.items(self.user_id, thread_id, order, limit + 1, after=anchor)
        if not rows:
            raise _thread_not_found(thread_id)
        if after is not None and item_id is None and rows[0].anchor is None:
            raise InvalidArgument(f"after: {after} is not an item of this thread.")
        found = [row for row in rows if row.message_id is not None]
        items = [_item_out(thread_id, row) for row in found[:limit]]
        return ItemPage(items=items, has_more=len(found) > limit, after=items[-1].item_id if items else None)

    async def delete_item(self, thread_id: str, item_id: str) -> ItemDeleted:
        deleted = await self.repo.delete_item(self.user_id, thread_id, item_key(item_id))
        if deleted is None:
            raise _thread_not_found(thread_id)
        return ItemDeleted(thread_id=thread_id, item_id=item_id, deleted=deleted)
